/**
 * What changes for a QMP client between two QEMUs: commands and events added, removed, or changed in their
 * arguments, returns, event data and features (`deprecated`, `unstable`, …). Types are compared by structure,
 * member by member, because QEMU masks most type names (`"123"`) and the masks differ between versions.
 *
 * @module
 */

import {
  type CommandEntry,
  type EventEntry,
  enumValues,
  indexSchema,
  isOptional,
  lookupType,
  type SchemaEntry,
  type SchemaIndex,
  type TypeEntry,
} from "./schema.ts";

/** What happened at one place of a command or event. */
export type SchemaChangeKind =
  | "member-added"
  | "member-removed"
  | "type-changed"
  | "made-optional"
  | "made-required"
  | "value-added"
  | "value-removed"
  | "variant-added"
  | "variant-removed"
  | "feature-added"
  | "feature-removed"
  | "oob-changed";

/** One difference inside a command or event. */
export interface SchemaChange {
  /**
   * Where, from the entry: `""` (the command or event itself), `arguments.sync`, `return[].inserted.file`,
   * `data.reason`, `arguments{driver=qcow2}.cache` (a flat union's branch), `arguments.file|object` (an
   * alternate's branch), `return.status="device"` (an enum value).
   */
  readonly path: string;
  readonly kind: SchemaChangeKind;
  /** The member, enum value, variant or feature added or removed. */
  readonly name?: string;
  /** The type before the change (`int`, `str?` when optional, `enum`, `object`, `T[]`, `A | B`). */
  readonly before?: string;
  /** The type after the change. */
  readonly after?: string;
}

/** A command or event present in both schemas that changed. */
export interface EntryDiff {
  readonly name: string;
  readonly changes: readonly SchemaChange[];
}

/** Commands or events: added, removed (sorted names) and changed (sorted by name). */
export interface EntriesDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly EntryDiff[];
}

/** The difference from schema `a` (older) to schema `b` (newer). */
export interface SchemaDiff {
  readonly commands: EntriesDiff;
  readonly events: EntriesDiff;
}

type Index = SchemaIndex;

/**
 * Compare two `query-qmp-schema` results (arrays or indexes) from the point of view of a client.
 *
 * @example
 * const diff = diffSchemas(schema72, schema100);
 * diff.commands.changed.find((c) => c.name === "query-status")?.changes;
 * // [{ path: "return", kind: "member-removed", name: "singlestep", before: "bool" }]
 */
export function diffSchemas(
  a: readonly SchemaEntry[] | Index,
  b: readonly SchemaEntry[] | Index,
): SchemaDiff {
  const ia = toIndex(a);
  const ib = toIndex(b);
  return {
    commands: diffEntries(ia.commands, ib.commands, (x, y) => diffCommand(ia, ib, x, y)),
    events: diffEntries(ia.events, ib.events, (x, y) => diffEvent(ia, ib, x, y)),
  };
}

function toIndex(schema: readonly SchemaEntry[] | Index): Index {
  return Array.isArray(schema) ? indexSchema(schema as readonly SchemaEntry[]) : (schema as Index);
}

function diffEntries<T extends { name: string }>(
  a: ReadonlyMap<string, T>,
  b: ReadonlyMap<string, T>,
  compare: (x: T, y: T) => SchemaChange[],
): EntriesDiff {
  const added = [...b.keys()].filter((n) => !a.has(n)).sort();
  const removed = [...a.keys()].filter((n) => !b.has(n)).sort();
  const changed: EntryDiff[] = [];
  for (const name of [...a.keys()].filter((n) => b.has(n)).sort()) {
    const changes = compare(a.get(name) as T, b.get(name) as T);
    if (changes.length > 0) changed.push({ name, changes });
  }
  return { added, removed, changed };
}

function diffCommand(ia: Index, ib: Index, x: CommandEntry, y: CommandEntry): SchemaChange[] {
  const walk = new Walk(ia, ib);
  walk.features("", x.features, y.features);
  if ((x["allow-oob"] ?? false) !== (y["allow-oob"] ?? false)) {
    walk.out.push({
      path: "",
      kind: "oob-changed",
      before: String(x["allow-oob"] ?? false),
      after: String(y["allow-oob"] ?? false),
    });
  }
  walk.type("arguments", x["arg-type"], y["arg-type"]);
  walk.type("return", x["ret-type"], y["ret-type"]);
  return walk.out;
}

function diffEvent(ia: Index, ib: Index, x: EventEntry, y: EventEntry): SchemaChange[] {
  const walk = new Walk(ia, ib);
  walk.features("", x.features, y.features);
  walk.type("data", x["arg-type"], y["arg-type"]);
  return walk.out;
}

/** One entry's comparison: each pair of types is walked once, at the first path that reaches it. */
class Walk {
  readonly out: SchemaChange[] = [];
  readonly #seen = new Set<string>();
  readonly #a: Index;
  readonly #b: Index;

  constructor(a: Index, b: Index) {
    this.#a = a;
    this.#b = b;
  }

  features(path: string, before: readonly string[] = [], after: readonly string[] = []): void {
    for (const f of after) if (!before.includes(f)) this.out.push({ path, kind: "feature-added", name: f });
    for (const f of before) if (!after.includes(f)) this.out.push({ path, kind: "feature-removed", name: f });
  }

  type(path: string, nameA: string, nameB: string): void {
    const pair = `${nameA}\u0000${nameB}`;
    if (this.#seen.has(pair)) return;
    this.#seen.add(pair);
    const ta = lookupType(this.#a, nameA);
    const tb = lookupType(this.#b, nameB);
    if (kindOf(ta) !== kindOf(tb)) {
      this.out.push({
        path,
        kind: "type-changed",
        before: render(this.#a, ta),
        after: render(this.#b, tb),
      });
      return;
    }
    if (ta["meta-type"] === "enum" && tb["meta-type"] === "enum") {
      const va = enumValues(ta);
      const vb = enumValues(tb);
      for (const v of vb) if (!va.includes(v)) this.out.push({ path, kind: "value-added", name: v });
      for (const v of va) if (!vb.includes(v)) this.out.push({ path, kind: "value-removed", name: v });
      for (const m of tb.members ?? []) {
        const old = ta.members?.find((o) => o.name === m.name);
        if (old !== undefined) this.features(`${path}=${JSON.stringify(m.name)}`, old.features, m.features);
      }
    } else if (ta["meta-type"] === "array" && tb["meta-type"] === "array") {
      this.type(`${path}[]`, ta["element-type"], tb["element-type"]);
    } else if (ta["meta-type"] === "alternate" && tb["meta-type"] === "alternate") {
      this.#alternate(path, ta.members, tb.members);
    } else if (ta["meta-type"] === "object" && tb["meta-type"] === "object") {
      this.#object(path, ta, tb);
    }
  }

  #alternate(path: string, a: readonly { type: string }[], b: readonly { type: string }[]): void {
    const branches = (index: Index, list: readonly { type: string }[]) =>
      new Map(list.map((m) => [kindOf(lookupType(index, m.type)), m.type]));
    const ba = branches(this.#a, a);
    const bb = branches(this.#b, b);
    const same = ba.size === bb.size && [...ba.keys()].every((k) => bb.has(k));
    if (!same) {
      this.out.push({
        path,
        kind: "type-changed",
        before: [...ba.values()].map((t) => render(this.#a, lookupType(this.#a, t))).join(" | "),
        after: [...bb.values()].map((t) => render(this.#b, lookupType(this.#b, t))).join(" | "),
      });
      return;
    }
    for (const [kind, typeA] of ba) this.type(`${path}|${kind}`, typeA, bb.get(kind) as string);
  }

  #object(
    path: string,
    ta: Extract<TypeEntry, { "meta-type": "object" }>,
    tb: Extract<TypeEntry, { "meta-type": "object" }>,
  ): void {
    const prefix = path === "" ? "" : `${path}.`;
    for (const mb of tb.members) {
      const ma = ta.members.find((m) => m.name === mb.name);
      const where = `${prefix}${mb.name}`;
      if (ma === undefined) {
        this.out.push({ path, kind: "member-added", name: mb.name, after: renderMember(this.#b, mb) });
        continue;
      }
      if (isOptional(ma) && !isOptional(mb)) this.out.push({ path: where, kind: "made-required" });
      if (!isOptional(ma) && isOptional(mb)) this.out.push({ path: where, kind: "made-optional" });
      this.features(where, ma.features, mb.features);
      this.type(where, ma.type, mb.type);
    }
    for (const ma of ta.members) {
      if (!tb.members.some((m) => m.name === ma.name)) {
        this.out.push({ path, kind: "member-removed", name: ma.name, before: renderMember(this.#a, ma) });
      }
    }
    if (ta.tag === undefined || tb.tag === undefined) {
      if (ta.tag !== tb.tag) {
        this.out.push({
          path,
          kind: "type-changed",
          before: render(this.#a, ta),
          after: render(this.#b, tb),
        });
      }
      return;
    }
    const va = new Map((ta.variants ?? []).map((v) => [v.case, v.type]));
    const vb = new Map((tb.variants ?? []).map((v) => [v.case, v.type]));
    // A branch that comes or goes with a value of the tag's enum is already said by that value's change.
    const tagPath = `${prefix}${tb.tag}`;
    const said = (kind: SchemaChangeKind, name: string) =>
      this.out.some((c) => c.path === tagPath && c.kind === kind && c.name === name);
    for (const c of vb.keys()) {
      if (!va.has(c) && !said("value-added", c)) this.out.push({ path, kind: "variant-added", name: c });
    }
    for (const c of va.keys()) {
      if (!vb.has(c) && !said("value-removed", c)) this.out.push({ path, kind: "variant-removed", name: c });
    }
    for (const [c, typeA] of va) {
      const typeB = vb.get(c);
      if (typeB !== undefined) this.type(`${path}{${tb.tag}=${c}}`, typeA, typeB);
    }
  }
}

/** What must match for two types to be compared member by member: builtins by their name, the rest by shape. */
function kindOf(t: TypeEntry): string {
  return t["meta-type"] === "builtin" ? t.name : t["meta-type"];
}

function render(index: Index, t: TypeEntry): string {
  switch (t["meta-type"]) {
    case "builtin":
      return t.name;
    case "array":
      return `${render(index, lookupType(index, t["element-type"]))}[]`;
    case "alternate":
      return t.members.map((m) => render(index, lookupType(index, m.type))).join(" | ");
    default:
      return t["meta-type"];
  }
}

function renderMember(index: Index, m: { type: string; default?: null }): string {
  return `${render(index, lookupType(index, m.type))}${"default" in m ? "?" : ""}`;
}

/**
 * The diff as text for a terminal: counts, then each added, removed and changed command and event, one change
 * per indented line.
 *
 * @example
 * console.log(formatSchemaDiff(diffSchemas(a, b), { from: "7.2", to: "10.0" }));
 */
export function formatSchemaDiff(diff: SchemaDiff, labels: { from: string; to: string }): string {
  const lines: string[] = [];
  const count = (d: EntriesDiff) => `+${d.added.length} -${d.removed.length} ~${d.changed.length}`;
  lines.push(
    `${labels.from} -> ${labels.to}: commands ${count(diff.commands)}, events ${count(diff.events)}`,
  );
  for (const [what, d] of [
    ["command", diff.commands],
    ["event", diff.events],
  ] as const) {
    for (const name of d.added) lines.push(`+ ${what} ${name}`);
    for (const name of d.removed) lines.push(`- ${what} ${name}`);
    for (const entry of d.changed) {
      lines.push(`~ ${what} ${entry.name}`);
      for (const change of entry.changes) lines.push(`    ${describeChange(change)}`);
    }
  }
  return lines.join("\n");
}

/** One change as a line: `return: member removed: singlestep (bool)`. */
export function describeChange(change: SchemaChange): string {
  const where = change.path === "" ? "(itself)" : change.path;
  const words = change.kind.replace("-", " ");
  const name = change.name === undefined ? "" : `: ${change.name}`;
  let types = "";
  if (change.before !== undefined && change.after !== undefined)
    types = ` (${change.before} -> ${change.after})`;
  else if (change.before !== undefined) types = ` (${change.before})`;
  else if (change.after !== undefined) types = ` (${change.after})`;
  return `${where}: ${words}${name}${types}`;
}
