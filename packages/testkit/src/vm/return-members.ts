/**
 * Which members a command's return value has, read from the machine's introspection schema. Models use it where
 * QEMU generations differ only in a reply's shape (7.2's `query-status` has `singlestep`, 10.0's has not; 10.0's
 * migration `ram` has no `skipped`), so the difference stays data.
 */
import type { SchemaEntry } from "../dispatch/schema-args.ts";

type ObjectEntry = SchemaEntry & { members?: { name: string; type: string }[]; "ret-type"?: string };

interface SchemaIndex {
  readonly types: Map<string, ObjectEntry>;
  readonly commands: Map<string, ObjectEntry>;
}

// Several subsystems ask at every VM's start: index a schema's ~1,000 entries once, not once per question.
const indexes = new WeakMap<readonly SchemaEntry[], SchemaIndex>();

function indexOf(schema: readonly SchemaEntry[]): SchemaIndex {
  let index = indexes.get(schema);
  if (index === undefined) {
    index = { types: new Map(), commands: new Map() };
    for (const entry of schema) {
      // Later entries win by name, as a Map built from the whole array would have it; commands keep the first.
      index.types.set(entry.name, entry as ObjectEntry);
      if (entry["meta-type"] === "command" && !index.commands.has(entry.name))
        index.commands.set(entry.name, entry as ObjectEntry);
    }
    indexes.set(schema, index);
  }
  return index;
}

/**
 * The member names of what `command` returns or, given `path`, of the object reached through those members
 * (`returnMembers(schema, "query-migrate", "ram")`); [] where there is no such object.
 */
export function returnMembers(schema: readonly SchemaEntry[], command: string, ...path: string[]): string[] {
  const { types, commands } = indexOf(schema);
  let type = types.get(String(commands.get(command)?.["ret-type"]));
  for (const member of path) type = types.get(String(type?.members?.find((m) => m.name === member)?.type));
  return type?.members?.map((m) => m.name) ?? [];
}
