/**
 * Which members a command's return value has, read from the machine's introspection schema. Models use it where
 * QEMU generations differ only in a reply's shape (7.2's `query-status` has `singlestep`, 10.0's has not; 10.0's
 * migration `ram` has no `skipped`), so the difference stays data.
 */
import { QAPISchema, type SchemaEntry } from "../dispatch/schema-args.ts";
import type { SchemaText } from "../dispatch/schema-text.ts";
import { type Machine, schemaSource } from "./machine.ts";

type ObjectEntry = SchemaEntry & { members?: { name: string; type: string }[] };

// Several subsystems ask, in every VM: one reader per schema. A recording's text is read entry by entry (the
// command and the few types on the path), never indexed whole: the CLI's one-command fake asks at its first
// query-status.
const schemas = new WeakMap<readonly SchemaEntry[] | SchemaText, QAPISchema>();

function schemaOf(machine: Machine): QAPISchema {
  const source = schemaSource(machine);
  let schema = schemas.get(source);
  if (schema === undefined) {
    schema = new QAPISchema(source);
    schemas.set(source, schema);
  }
  return schema;
}

/**
 * The member names of what `command` returns or, given `path`, of the object reached through those members
 * (`returnMembers(machine, "query-migrate", "ram")`); [] where there is no such object.
 */
export function returnMembers(machine: Machine, command: string, ...path: string[]): string[] {
  const schema = schemaOf(machine);
  let type = schema.entry(String(schema.command(command)?.["ret-type"])) as ObjectEntry | undefined;
  for (const member of path) {
    type = schema.entry(String(type?.members?.find((m) => m.name === member)?.type)) as
      | ObjectEntry
      | undefined;
  }
  // A loop, not .map(): a short session's first Array#map call would cost its builtin's first run.
  const names: string[] = [];
  for (const member of type?.members ?? []) names.push(member.name);
  return names;
}
