/**
 * The QAPI introspection schema as returned by `query-qmp-schema`: a flat array of entries
 * that refer to each other by name. Type names are masked (`"1"`, `"[24]"`) unless QEMU runs
 * with unmasked introspection, so nothing here assumes a name means anything.
 */

export interface SchemaMember {
  readonly name: string;
  readonly type: string;
  /** Present (always `null`) when the member is optional. */
  readonly default?: null;
  readonly features?: readonly string[];
}

interface EntryBase {
  readonly name: string;
  readonly features?: readonly string[];
}

export interface CommandEntry extends EntryBase {
  readonly "meta-type": "command";
  readonly "arg-type": string;
  readonly "ret-type": string;
  readonly "allow-oob"?: boolean;
}
export interface EventEntry extends EntryBase {
  readonly "meta-type": "event";
  readonly "arg-type": string;
}
export interface ObjectEntry extends EntryBase {
  readonly "meta-type": "object";
  readonly members: readonly SchemaMember[];
  readonly tag?: string;
  readonly variants?: readonly { readonly case: string; readonly type: string }[];
}
export interface EnumEntry extends EntryBase {
  readonly "meta-type": "enum";
  readonly values: readonly string[];
}
export interface ArrayEntry extends EntryBase {
  readonly "meta-type": "array";
  readonly "element-type": string;
}
export interface AlternateEntry extends EntryBase {
  readonly "meta-type": "alternate";
  readonly members: readonly { readonly type: string }[];
}
export interface BuiltinEntry extends EntryBase {
  readonly "meta-type": "builtin";
  readonly "json-type": string;
}

export type SchemaEntry =
  | CommandEntry
  | EventEntry
  | ObjectEntry
  | EnumEntry
  | ArrayEntry
  | AlternateEntry
  | BuiltinEntry;

/** A schema with lookups by name; build once with {@link indexSchema}. */
export interface SchemaIndex {
  readonly entries: ReadonlyMap<string, SchemaEntry>;
  /** Sorted by name. */
  readonly commands: readonly CommandEntry[];
  /** Sorted by name. */
  readonly events: readonly EventEntry[];
}

/**
 * Checks the outline of a `query-qmp-schema` result and indexes it.
 * @throws {TypeError} when `raw` is not an array of `{name, meta-type}` objects.
 */
export function indexSchema(raw: unknown): SchemaIndex {
  if (!Array.isArray(raw))
    throw new TypeError("a QMP schema must be a JSON array (the query-qmp-schema return value)");
  const entries = new Map<string, SchemaEntry>();
  for (const [i, entry] of raw.entries()) {
    if (
      typeof entry !== "object" ||
      entry === null ||
      typeof entry.name !== "string" ||
      typeof entry["meta-type"] !== "string"
    ) {
      throw new TypeError(`schema entry ${i} has no string "name" and "meta-type"`);
    }
    entries.set(entry.name, entry as SchemaEntry);
  }
  const byName = (a: { name: string }, b: { name: string }) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  const all = [...entries.values()];
  return {
    entries,
    commands: all.filter((e): e is CommandEntry => e["meta-type"] === "command").sort(byName),
    events: all.filter((e): e is EventEntry => e["meta-type"] === "event").sort(byName),
  };
}

/**
 * The members a command (or event) takes at the top level. For a union argument type, the
 * variant members are added when `tagValue` names the chosen case.
 */
export function argumentMembers(
  index: SchemaIndex,
  name: string,
  tagValue?: string,
): readonly SchemaMember[] {
  const entry = index.entries.get(name);
  if (entry?.["meta-type"] !== "command" && entry?.["meta-type"] !== "event") return [];
  const args = index.entries.get(entry["arg-type"]);
  if (args?.["meta-type"] !== "object") return [];
  const variant = args.variants?.find((v) => v.case === tagValue);
  const extra = variant ? index.entries.get(variant.type) : undefined;
  return extra?.["meta-type"] === "object" ? [...args.members, ...extra.members] : args.members;
}

/** The discriminator member of a command's union argument type, if it has one. */
export function argumentTag(index: SchemaIndex, name: string): string | undefined {
  const entry = index.entries.get(name);
  if (entry?.["meta-type"] !== "command") return undefined;
  const args = index.entries.get(entry["arg-type"]);
  return args?.["meta-type"] === "object" ? args.tag : undefined;
}

/**
 * Up to `limit` known command/event names close to `name`: shared prefix or substring first,
 * then small edit distance. For "did you mean" hints.
 */
export function suggestNames(index: SchemaIndex, name: string, limit = 3): string[] {
  const names = [...index.commands, ...index.events].map((e) => e.name);
  const lower = name.toLowerCase();
  const scored = names
    .map((candidate) => {
      const c = candidate.toLowerCase();
      const near = c.includes(lower) || lower.includes(c) ? 0 : editDistance(lower, c);
      return { candidate, score: near };
    })
    .filter(({ score }) => score <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.score - b.score || a.candidate.length - b.candidate.length);
  return scored.slice(0, limit).map(({ candidate }) => candidate);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = row;
  }
  return prev[b.length] as number;
}
