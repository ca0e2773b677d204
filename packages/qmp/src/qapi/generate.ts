/**
 * TypeScript source from a QAPI introspection schema: a `Commands` map, an `Events` map and one declaration
 * per (folded) named type. Pure and deterministic: the same set of entries, in any order, gives the same bytes.
 */

import { compareStrings, foldTypes, sortedFeatures, type TypeClasses } from "./fold.ts";
import { isEmptyObject, nameTypes, rootPath, type TypeNames } from "./naming.ts";
import {
  enumValues,
  indexSchema,
  isOptional,
  lookupType,
  type ObjectEntry,
  OPEN_ARGUMENT_COMMANDS,
  type SchemaEntry,
  type SchemaIndex,
} from "./schema.ts";

/** Options of {@link generateTypes}. */
export interface GenerateOptions {
  /** QEMU version the schema came from, recorded in the header, e.g. `"7.2.0"`. */
  readonly qemuVersion?: string;
}

/**
 * Generate TypeScript declarations for every command and event of a QAPI schema.
 *
 * @example
 * const schema = parseSchema(await Bun.file("schema.json").json());
 * await Bun.write("qemu-types.ts", generateTypes(schema, { qemuVersion: "7.2.0" }));
 */
export function generateTypes(schema: readonly SchemaEntry[], opts: GenerateOptions = {}): string {
  const index = indexSchema(schema);
  const classes = foldTypes(index);
  const naming = nameTypes(index, classes);
  const emitter = new Emitter(index, classes, naming);
  return emitter.file(opts);
}

const identifier = /^[A-Za-z_$][\w$]*$/;

function propertyKey(name: string): string {
  return identifier.test(name) ? name : JSON.stringify(name);
}

/** JSDoc lines for QAPI features: `deprecated` and `unstable` become tags, others are listed. */
function featureLines(features: readonly string[] | undefined): string[] {
  const lines: string[] = [];
  const others: string[] = [];
  for (const f of sortedFeatures(features)) {
    if (f === "deprecated" || f === "unstable") lines.push(`@${f}`);
    else others.push(`\`${f}\``);
  }
  if (others.length > 0) lines.unshift(`QAPI features: ${others.join(", ")}.`);
  return lines;
}

function jsdoc(lines: readonly string[], indent: string): string[] {
  if (lines.length === 0) return [];
  if (lines.length === 1) return [`${indent}/** ${lines[0]} */`];
  return [`${indent}/**`, ...lines.map((l) => `${indent} * ${l}`), `${indent} */`];
}

class Emitter {
  readonly #index: SchemaIndex;
  readonly #classes: TypeClasses;
  readonly #naming: TypeNames;

  constructor(index: SchemaIndex, classes: TypeClasses, naming: TypeNames) {
    this.#index = index;
    this.#classes = classes;
    this.#naming = naming;
  }

  file(opts: GenerateOptions): string {
    const commands = [...this.#index.commands.values()].sort((a, b) => compareStrings(a.name, b.name));
    const events = [...this.#index.events.values()].sort((a, b) => compareStrings(a.name, b.name));
    const declared = [...this.#naming.names].sort(([, a], [, b]) => compareStrings(a, b));
    const out: string[] = [...this.#header(opts, commands.length, events.length, declared.length)];

    out.push(
      "/** An object with no members: the arguments of a command that takes none, an empty return. */",
    );
    out.push("export type EmptyObject = Record<string, never>;", "");

    out.push("/** Every command: its arguments and what it returns. */", "export interface Commands {");
    for (const c of commands) {
      const doc = featureLines(c.features);
      if (c["allow-oob"] === true) doc.unshift("Supports out-of-band execution.");
      let args = this.#rootRef(c["arg-type"], rootPath("arguments", c.name));
      if (OPEN_ARGUMENT_COMMANDS.has(c.name)) {
        doc.push("Takes further arguments that QEMU checks itself (e.g. device properties).");
        args = `${args} & Record<string, unknown>`;
      }
      out.push(...jsdoc(doc, "  "));
      const returns = this.#rootRef(c["ret-type"], rootPath("return", c.name));
      out.push(`  ${JSON.stringify(c.name)}: { args: ${args}; returns: ${returns} };`);
    }
    out.push("}", "");

    out.push("/** Every event: the type of its `data`. */", "export interface Events {");
    for (const e of events) {
      out.push(...jsdoc(featureLines(e.features), "  "));
      out.push(`  ${propertyKey(e.name)}: ${this.#rootRef(e["arg-type"], rootPath("data", e.name))};`);
    }
    out.push("}");

    for (const [rep, name] of declared) {
      out.push("", ...this.#declaration(rep, name));
      // An interface that extends keeps its own name in compiler messages, where a type alias would show the
      // shared declaration's name (a `device_del` error naming `JobPauseArgs` reads as a bug).
      const t = lookupType(this.#index, rep);
      const isInterface = t["meta-type"] === "object" && t.tag === undefined;
      for (const alias of this.#naming.aliases.get(rep) ?? []) {
        out.push(
          "",
          isInterface ? `export interface ${alias} extends ${name} {}` : `export type ${alias} = ${name};`,
        );
      }
    }
    return `${out.join("\n")}\n`;
  }

  #header(opts: GenerateOptions, commands: number, events: number, types: number): string[] {
    const source = opts.qemuVersion === undefined ? "a QEMU" : `QEMU ${opts.qemuVersion}`;
    return [
      `// Generated by @qmpkit/qmp generateTypes() from the QAPI introspection schema of ${source}.`,
      "// Do not edit: regenerate with `bun packages/qmp/scripts/generate-types.ts`.",
      "//",
      `// ${commands} commands, ${events} events, ${types} named types.`,
      "//",
      "// Mapping: int and number -> number. JSON.parse reads integers beyond Number.MAX_SAFE_INTEGER (2^53 - 1)",
      "// with lost precision; QEMU sends uint64 values (sizes, offsets, counters) that can exceed it.",
      "// str -> string, bool -> boolean, null -> null, any -> unknown, [T] -> T[], enum -> union of string",
      "// literals, alternate -> union of its branches, flat union -> union discriminated by its tag, optional",
      "// member -> `?:`, no arguments or no return -> EmptyObject (so passing any argument is an error).",
      "// An event without data also maps to EmptyObject: QEMU then omits `data`, which a client reads as {}.",
      "// Features `deprecated` and `unstable` become JSDoc tags.",
      "//",
      "// Names: QEMU masks most type names, so a type is named after where it is first used: <Command>Args,",
      "// <Command>Return, <Event>Data, then <Parent><Member> for members, <Parent><Case> for flat-union",
      "// variants and <Parent>Object/Enum/List for alternate branches. Structurally identical types share one",
      "// declaration, and every command and event still gets its own <Command>Args/Return, <Event>Data name",
      "// (an interface extending the shared one, or a type alias). Types no command or event uses are left out.",
      "",
    ];
  }

  /** Like {@link #ref}, but naming the type after the command or event it belongs to. */
  #rootRef(typeName: string, path: string): string {
    let t = lookupType(this.#index, typeName);
    let dims = "";
    while (t["meta-type"] === "array") {
      t = lookupType(this.#index, t["element-type"]);
      dims += "[]";
    }
    const name = this.#naming.roots.get(path);
    return name === undefined ? this.#ref(typeName) : `${name}${dims}`;
  }

  /** The TS type expression for a reference to a schema type. */
  #ref(typeName: string): string {
    const t = lookupType(this.#index, typeName);
    switch (t["meta-type"]) {
      case "builtin":
        switch (t["json-type"]) {
          case "string":
            return "string";
          case "int":
          case "number":
            return "number";
          case "boolean":
            return "boolean";
          case "null":
            return "null";
          case "object":
            return "Record<string, unknown>";
          default:
            return "unknown";
        }
      case "array":
        return `${this.#ref(t["element-type"])}[]`;
      default: {
        if (isEmptyObject(this.#index, typeName)) return "EmptyObject";
        const name = this.#naming.names.get(this.#classes.classOf(typeName));
        if (name === undefined) throw new Error(`internal: type "${typeName}" is used but was not named`);
        return name;
      }
    }
  }

  #declaration(rep: string, name: string): string[] {
    const t = lookupType(this.#index, rep);
    const doc = featureLines(t.features);
    switch (t["meta-type"]) {
      case "enum": {
        const values = enumValues(t);
        for (const feature of ["deprecated", "unstable"]) {
          const flagged = (t.members ?? []).filter((m) => m.features?.includes(feature));
          if (flagged.length > 0)
            doc.push(`Values that are ${feature}: ${flagged.map((m) => `\`${m.name}\``).join(", ")}.`);
        }
        return [
          ...jsdoc(doc, ""),
          ...union(name, values.length === 0 ? ["never"] : values.map((v) => JSON.stringify(v))),
        ];
      }
      case "alternate":
        return [
          ...jsdoc(doc, ""),
          ...union(
            name,
            t.members.map((m) => this.#ref(m.type)),
          ),
        ];
      case "object":
        if (t.tag !== undefined) return [...jsdoc(doc, ""), ...this.#flatUnion(rep, t, name)];
        return [...jsdoc(doc, ""), `export interface ${name} {`, ...this.#members(t.members), "}"];
      default:
        throw new Error(`internal: no declaration for ${t["meta-type"]} "${rep}"`);
    }
  }

  #members(members: ObjectEntry["members"]): string[] {
    const out: string[] = [];
    for (const m of members) {
      out.push(...jsdoc(featureLines(m.features), "  "));
      out.push(`  ${propertyKey(m.name)}${isOptional(m) ? "?" : ""}: ${this.#ref(m.type)};`);
    }
    return out;
  }

  /** One arm per tag value: the tag narrowed to that value, the common members, and the variant's members. */
  #flatUnion(rep: string, t: ObjectEntry, name: string): string[] {
    const tag = t.members.find((m) => m.name === t.tag);
    if (tag === undefined) throw new Error(`internal: flat union "${rep}" has no tag member "${t.tag}"`);
    const tagType = lookupType(this.#index, tag.type);
    const variants = new Map((t.variants ?? []).map((v) => [v.case, v.type]));
    // QEMU lists every tag value, giving value-only branches an empty type; older schemas may omit them.
    const cases = tagType["meta-type"] === "enum" ? enumValues(tagType) : [...variants.keys()];
    const base = this.#naming.bases.get(rep);
    const arms = cases.map((value) => {
      const parts = [`{ ${propertyKey(tag.name)}${isOptional(tag) ? "?" : ""}: ${JSON.stringify(value)} }`];
      if (base !== undefined) parts.push(base);
      const variant = variants.get(value);
      if (variant !== undefined && !isEmptyObject(this.#index, variant)) parts.push(this.#ref(variant));
      return parts.length === 1 ? (parts[0] ?? "") : `(${parts.join(" & ")})`;
    });
    const out = union(name, arms.length === 0 ? ["never"] : arms);
    if (base !== undefined) {
      const common = t.members.filter((m) => m.name !== t.tag);
      out.push("", `/** Members common to every variant of {@link ${name}}. */`);
      out.push(`export interface ${base} {`, ...this.#members(common), "}");
    }
    return out;
  }
}

function union(name: string, alternatives: readonly string[]): string[] {
  const oneLine = `export type ${name} = ${alternatives.join(" | ")};`;
  if (oneLine.length <= 110) return [oneLine];
  return [
    `export type ${name} =`,
    ...alternatives.map((a, i) => `  | ${a}${i === alternatives.length - 1 ? ";" : ""}`),
  ];
}
