/**
 * Renders the introspection schema for people: a list of commands and events, and one entry's
 * arguments and return type in a TypeScript-like notation with masked types expanded inline.
 *
 * ```
 * command query-status
 * arguments: none
 * returns: {
 *   running: boolean;
 *   singlestep: boolean;
 *   status: "debug" | "inmigrate" | "internal-error" | … ;
 * }
 * ```
 *
 * Notation: `name?: T` is optional; `int` is kept apart from `number` because QEMU rejects a
 * fraction where it wants an integer; `any` is any JSON value; union object types list their
 * shared members, then `// when TAG is "case":` followed by that case's members. Expansion stops
 * at `maxDepth` nested objects (`{ … }`) and at a type already being expanded (marked recursive).
 */

import { enumValues, type SchemaEntry, type SchemaIndex, type SchemaMember, sortedNames } from "./schema.ts";

export interface SchemaViewOptions {
  /**
   * Nested objects expanded before showing `{ … }`.
   * @default 4
   */
  readonly maxDepth?: number;
  /**
   * Width at which unions break onto one line per alternative.
   * @default 100
   */
  readonly width?: number;
}

export interface SchemaListOptions {
  /** Only names containing this text (case-insensitive). */
  readonly filter?: string;
  /** @default "all" */
  readonly kind?: "command" | "event" | "all";
}

/** Lists command and event names, one per line, with their features (`[deprecated]`, …). */
export function renderSchemaList(index: SchemaIndex, options: SchemaListOptions = {}): string {
  const needle = options.filter?.toLowerCase() ?? "";
  const kind = options.kind ?? "all";
  const sections: string[] = [];
  for (const [label, entries] of [
    ["commands", kind === "event" ? undefined : index.commands],
    ["events", kind === "command" ? undefined : index.events],
  ] as const) {
    if (!entries) continue;
    const shown = sortedNames(entries)
      .map((name) => entries.get(name) as SchemaEntry)
      .filter((e) => e.name.toLowerCase().includes(needle));
    const lines = shown.map((e) => `  ${e.name}${featureNote(e.features)}`);
    sections.push([`${label} (${shown.length}):`, ...lines].join("\n"));
  }
  return sections.join("\n\n");
}

/**
 * Renders one entry by name: a command's arguments and return type, an event's data, or any
 * type. Returns `undefined` when the schema has no such name.
 */
export function renderSchemaEntry(
  index: SchemaIndex,
  name: string,
  options: SchemaViewOptions = {},
): string | undefined {
  const entry = index.entries.get(name);
  if (!entry) return undefined;
  const view = new TypeView(index, options.maxDepth ?? 4, options.width ?? 100);
  const head = `${entry["meta-type"]} ${entry.name}${featureNote(entry.features)}`;
  switch (entry["meta-type"]) {
    case "command": {
      const lines = [
        head,
        `arguments: ${view.arguments(entry["arg-type"])}`,
        `returns: ${view.type(entry["ret-type"])}`,
      ];
      if (entry["allow-oob"]) lines.push("allows out-of-band execution");
      return lines.join("\n");
    }
    case "event":
      return [head, `data: ${view.arguments(entry["arg-type"])}`].join("\n");
    default:
      return `${head}\n${view.type(entry.name)}`;
  }
}

/**
 * Renders what a dotted path names under a command, event or type: `blockdev-add.qcow2` is one branch of the
 * argument union (the shared members, the tag fixed, that case's members), `blockdev-add.cache` the type of
 * the member `cache`; segments chain (`blockdev-add.qcow2.file`), an alternate is followed to its object
 * branch. QEMU masks the names of types in `query-qmp-schema`, so a path from a command is how a type is
 * named. Returns `undefined` for an unknown head, an error message for a segment that names nothing.
 */
export function renderSchemaPath(
  index: SchemaIndex,
  path: string,
  options: SchemaViewOptions = {},
): string | { error: string } | undefined {
  const [head = "", ...segments] = path.split(".");
  const entry = index.entries.get(head);
  if (!entry) return undefined;
  if (segments.length === 0) return renderSchemaEntry(index, head, options);
  let current: SchemaEntry | undefined =
    entry["meta-type"] === "command" || entry["meta-type"] === "event"
      ? index.entries.get(entry["arg-type"])
      : entry;
  let fixedTag: { name: string; value: string } | undefined;
  for (const [i, segment] of segments.entries()) {
    const at = [head, ...segments.slice(0, i)].join(".");
    if (current?.["meta-type"] === "alternate") {
      current = current.members
        .map((m) => index.entries.get(m.type))
        .find((t) => t?.["meta-type"] === "object");
    }
    if (current?.["meta-type"] !== "object")
      return { error: `'${at}' is not an object: it has no '${segment}'` };
    const object: SchemaEntry & { "meta-type": "object" } = current;
    const variant = object.variants?.find((v) => v.case === segment);
    const branch = variant ? index.entries.get(variant.type) : undefined;
    if (variant && current.tag !== undefined) {
      const extra = branch?.["meta-type"] === "object" ? branch.members : [];
      fixedTag = { name: current.tag, value: segment };
      current = {
        name: `${current.name}.${segment}`,
        "meta-type": "object",
        members: [...object.members.filter((m) => m.name !== object.tag), ...extra],
      } as SchemaEntry;
      continue;
    }
    const member = current.members.find((m) => m.name === segment);
    if (!member) {
      const names = current.members.map((m) => m.name);
      const members = names.length > 0 ? `members: ${names.join(", ")}` : "no members";
      const cases = (object.variants ?? []).map((v) => v.case);
      const branches = cases.length > 0 ? `; ${object.tag} branches: ${cases.join(", ")}` : "";
      return { error: `'${at}' has no member or branch '${segment}' (${members}${branches})` };
    }
    fixedTag = undefined;
    current = index.entries.get(member.type);
  }
  if (!current) return { error: `'${path}' names a type the schema lacks` };
  const view = new TypeView(index, options.maxDepth ?? 4, options.width ?? 100);
  let text = view.entry(current, 0);
  // A branch has its tag fixed: show the one value instead of the whole enum.
  if (fixedTag) text = text.replace(/^\{\n/, `{\n  ${fixedTag.name}: ${JSON.stringify(fixedTag.value)};\n`);
  return `${path}: ${text}`;
}

/** Renders a type by name in the notation above. */
export function renderType(index: SchemaIndex, typeName: string, options: SchemaViewOptions = {}): string {
  return new TypeView(index, options.maxDepth ?? 4, options.width ?? 100).type(typeName);
}

function featureNote(features: readonly string[] | undefined): string {
  return features && features.length > 0 ? `  [${features.join(", ")}]` : "";
}

const BUILTIN: Record<string, string> = {
  string: "string",
  int: "int",
  number: "number",
  boolean: "boolean",
  null: "null",
  value: "any",
};

class TypeView {
  // Object types being expanded on the current path, to cut recursion.
  readonly #open: string[] = [];

  constructor(
    readonly index: SchemaIndex,
    readonly maxDepth: number,
    readonly width: number,
  ) {}

  /** A command's or event's argument type: `none` when it is the empty object. */
  arguments(typeName: string): string {
    const entry = this.index.entries.get(typeName);
    if (entry?.["meta-type"] === "object" && entry.members.length === 0 && !entry.variants?.length)
      return "none";
    return this.type(typeName);
  }

  type(typeName: string, indent = 0): string {
    const entry = this.index.entries.get(typeName);
    if (!entry) return typeName;
    return this.entry(entry, indent);
  }

  entry(entry: SchemaEntry, indent: number): string {
    switch (entry["meta-type"]) {
      case "builtin":
        return BUILTIN[entry["json-type"]] ?? entry.name;
      case "enum":
        return this.union(
          enumValues(entry).map((v) => JSON.stringify(v)),
          indent,
        );
      case "array": {
        const element = this.index.entries.get(entry["element-type"]);
        const inner = this.type(entry["element-type"], indent);
        const isUnion = element?.["meta-type"] === "enum" || element?.["meta-type"] === "alternate";
        if (!isUnion) return `${inner}[]`;
        return inner.startsWith("\n") ? `Array<${inner}\n${" ".repeat(indent)}>` : `Array<${inner}>`;
      }
      case "alternate":
        return this.union(
          entry.members.map((m) => this.type(m.type, indent)),
          indent,
        );
      case "object":
        return this.object(entry, indent);
      default:
        return entry.name;
    }
  }

  union(parts: string[], indent: number): string {
    const inline = parts.join(" | ");
    // An alternative that spans lines (an object) reads best joined in place: `{ … } | string`.
    if (inline.includes("\n") || indent + inline.length <= this.width) return inline;
    const pad = " ".repeat(indent + 2);
    return parts.map((p) => `\n${pad}| ${p}`).join("");
  }

  object(entry: SchemaEntry & { "meta-type": "object" }, indent: number): string {
    if (entry.members.length === 0 && !entry.variants?.length) return "{}";
    if (this.#open.includes(entry.name)) return "{ … /* recursive */ }";
    if (this.#open.length >= this.maxDepth) return "{ … }";
    this.#open.push(entry.name);
    const pad = " ".repeat(indent + 2);
    const lines = ["{", ...entry.members.map((m) => this.member(m, indent + 2))];
    for (const group of groupVariants(entry.variants ?? [])) {
      const variant = this.index.entries.get(group.type);
      if (variant?.["meta-type"] !== "object" || variant.members.length === 0) continue;
      const cases = group.cases.map((c) => JSON.stringify(c)).join(" | ");
      lines.push(`${pad}// when ${entry.tag} is ${cases}:`);
      lines.push(...variant.members.map((m) => this.member(m, indent + 2)));
    }
    this.#open.pop();
    lines.push(`${" ".repeat(indent)}}`);
    return lines.join("\n");
  }

  member(member: SchemaMember, indent: number): string {
    const optional = member.default !== undefined ? "?" : "";
    const type = this.type(member.type, indent);
    // A union broken onto lines starts with its own newline; no trailing space before it.
    const head = `${" ".repeat(indent)}${member.name}${optional}:${type.startsWith("\n") ? "" : " "}`;
    const note = member.features?.length ? ` // ${member.features.join(", ")}` : "";
    return `${head}${type};${note}`;
  }
}

/** Variants that share a type are shown once: `// when driver is "file" | "host_device":`. */
function groupVariants(
  variants: readonly { readonly case: string; readonly type: string }[],
): { type: string; cases: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const v of variants) groups.set(v.type, [...(groups.get(v.type) ?? []), v.case]);
  return [...groups].map(([type, cases]) => ({ type, cases }));
}
