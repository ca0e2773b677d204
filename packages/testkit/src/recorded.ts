/**
 * What was recorded from QEMU 7.2 (`fixtures/`): the introspection schema and the `query-commands` list.
 * Loaded with dynamic imports of static paths, so they are read once, only when a fake needs them, and a
 * bundler (`bun build --compile`) embeds them: a compiled binary has no fixtures directory to read from.
 */
import type { SchemaEntry } from "./dispatch/schema-args.ts";

let schema: Promise<SchemaEntry[]> | undefined;
let commands: Promise<string[]> | undefined;

/** The `query-qmp-schema` return recorded from QEMU 7.2 (1051 entries). */
export function loadRecordedSchema(): Promise<SchemaEntry[]> {
  schema ??= import("../fixtures/qemu-7.2-schema.json", { with: { type: "json" } }).then(
    (module) => module.default as unknown as SchemaEntry[],
  );
  return schema;
}

/** The command names of QEMU 7.2's `query-commands` reply, in QEMU's order. */
export function loadRecordedCommandList(): Promise<string[]> {
  commands ??= import("../fixtures/qemu-7.2-commands.json", { with: { type: "json" } }).then((module) =>
    (module.default as { name: string }[]).map((c) => c.name),
  );
  return commands;
}
