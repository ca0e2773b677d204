/**
 * Which members a command's return value has, read from the machine's introspection schema. Models use it where
 * QEMU generations differ only in a reply's shape (7.2's `query-status` has `singlestep`, 10.0's has not; 10.0's
 * migration `ram` has no `skipped`), so the difference stays data.
 */
import type { SchemaEntry } from "../dispatch/schema-args.ts";
import type { Machine } from "./machine.ts";

type ObjectEntry = SchemaEntry & { members?: { name: string; type: string }[]; "ret-type"?: string };

/** Finds an entry by name: a recorded schema's `SchemaText`, or an index of a parsed array. */
interface EntryLookup {
  entry(name: string): ObjectEntry | SchemaEntry | undefined;
}

interface SchemaIndex {
  readonly types: EntryLookup;
  readonly commands: EntryLookup;
}

// Several subsystems ask at every VM's start: index a schema's ~1,000 entries once, not once per question.
const indexes = new WeakMap<readonly SchemaEntry[], SchemaIndex>();

function indexOf(schema: readonly SchemaEntry[]): SchemaIndex {
  let index = indexes.get(schema);
  if (index === undefined) {
    const types = new Map<string, ObjectEntry>();
    const commands = new Map<string, ObjectEntry>();
    for (const entry of schema) {
      // Later entries win by name, as a Map built from the whole array would have it; commands keep the first.
      types.set(entry.name, entry as ObjectEntry);
      if (entry["meta-type"] === "command" && !commands.has(entry.name))
        commands.set(entry.name, entry as ObjectEntry);
    }
    index = {
      types: { entry: (name) => types.get(name) },
      commands: { entry: (name) => commands.get(name) },
    };
    indexes.set(schema, index);
  }
  return index;
}

/**
 * The member names of what `command` returns or, given `path`, of the object reached through those members
 * (`returnMembers(machine, "query-migrate", "ram")`); [] where there is no such object.
 */
export function returnMembers(machine: Machine, command: string, ...path: string[]): string[] {
  // A recorded schema is read entry by entry (the command and the few types on the path), never indexed whole:
  // the CLI's one-command fake asks this at its first query-status.
  const text = machine.profile?.schemaText();
  const { types, commands } = text === undefined ? indexOf(machine.schema) : { types: text, commands: text };
  const ret = commands.entry(command);
  let type = types.entry(String(ret?.["meta-type"] === "command" ? ret["ret-type"] : undefined)) as
    | ObjectEntry
    | undefined;
  for (const member of path) {
    type = types.entry(String(type?.members?.find((m) => m.name === member)?.type)) as
      | ObjectEntry
      | undefined;
  }
  return type?.members?.map((m) => m.name) ?? [];
}
