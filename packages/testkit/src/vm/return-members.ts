/**
 * Which members a command's return value has, read from the machine's introspection schema. Models use it where
 * QEMU generations differ only in a reply's shape (7.2's `query-status` has `singlestep`, 10.0's has not; 10.0's
 * migration `ram` has no `skipped`), so the difference stays data.
 */
import type { SchemaEntry } from "../dispatch/schema-args.ts";

type ObjectEntry = SchemaEntry & { members?: { name: string; type: string }[]; "ret-type"?: string };

/**
 * The member names of what `command` returns or, given `path`, of the object reached through those members
 * (`returnMembers(schema, "query-migrate", "ram")`); [] where there is no such object.
 */
export function returnMembers(schema: readonly SchemaEntry[], command: string, ...path: string[]): string[] {
  const byName = new Map(schema.map((e) => [e.name, e as ObjectEntry]));
  const entry = schema.find((e) => e.name === command && e["meta-type"] === "command") as
    | ObjectEntry
    | undefined;
  let type = byName.get(String(entry?.["ret-type"]));
  for (const member of path) type = byName.get(String(type?.members?.find((m) => m.name === member)?.type));
  return type?.members?.map((m) => m.name) ?? [];
}
