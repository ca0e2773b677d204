/**
 * The CLI's view of the QAPI introspection schema (`query-qmp-schema`). Parsing and indexing are
 * `@qmpkit/qmp`'s (`parseSchema`, `indexSchema`); what lives here is only what the CLI adds on
 * top: sorted name lists for people, argument members for completion, and "did you mean" hints.
 */

import { indexSchema, parseSchema, type SchemaEntry, type SchemaIndex } from "@qmpkit/qmp/qapi";

export type { SchemaEntry, SchemaIndex };

/** One entry kind of the schema, by its `meta-type`. */
export type EntryOf<M extends SchemaEntry["meta-type"]> = Extract<SchemaEntry, { "meta-type": M }>;
export type CommandEntry = EntryOf<"command">;
export type EventEntry = EntryOf<"event">;
export type ObjectEntry = EntryOf<"object">;
export type EnumEntry = EntryOf<"enum">;
/** A member of an object type; `default` is present (always `null`) when it is optional. */
export type SchemaMember = ObjectEntry["members"][number];

/**
 * Checks a `query-qmp-schema` result (or a saved copy of one) and indexes it.
 * @throws {QAPISchemaError} from `@qmpkit/qmp`, naming the first malformed entry.
 * @example loadSchema(await session.execute("query-qmp-schema")).commands.get("query-status")
 */
export function loadSchema(raw: unknown): SchemaIndex {
  return indexSchema(parseSchema(raw));
}

/** Names of a map's entries, sorted: `qmpkit schema` and completion list them alphabetically. */
export function sortedNames(entries: ReadonlyMap<string, unknown>): string[] {
  return [...entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The values of an enum: `members` since QEMU 6.0, the legacy `values` list before. */
export function enumValues(entry: EnumEntry): string[] {
  return entry.members !== undefined ? entry.members.map((m) => m.name) : [...(entry.values ?? [])];
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
  const names = [...index.commands.keys(), ...index.events.keys()];
  const lower = name.toLowerCase();
  const scored = names
    .map((candidate) => {
      const c = candidate.toLowerCase();
      const near = c.includes(lower) || lower.includes(c) ? 0 : editDistance(lower, c);
      return { candidate, score: near };
    })
    .filter(({ score }) => score <= Math.max(2, Math.floor(name.length / 3)))
    .sort(
      (a, b) =>
        a.score - b.score || a.candidate.length - b.candidate.length || (a.candidate < b.candidate ? -1 : 1),
    );
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
