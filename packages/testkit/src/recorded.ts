/**
 * Loads what was recorded from QEMU 7.2 (`fixtures/`): the introspection schema and the `query-commands` list.
 * Read once per process and shared.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SchemaEntry } from "./schema-args.ts";

const FIXTURES = join(import.meta.dir, "..", "fixtures");

let schema: Promise<SchemaEntry[]> | undefined;
let commands: string[] | undefined;

/** The `query-qmp-schema` return recorded from QEMU 7.2 (1051 entries). */
export function loadRecordedSchema(): Promise<SchemaEntry[]> {
  schema ??= Bun.file(join(FIXTURES, "qemu-7.2-schema.json")).json() as Promise<SchemaEntry[]>;
  return schema;
}

/** The command names of QEMU 7.2's `query-commands` reply, in QEMU's order. */
export function loadRecordedCommandList(): string[] {
  if (commands !== undefined) return commands;
  const text = readFileSync(join(FIXTURES, "qemu-7.2-transcript.jsonl"), "utf8");
  for (const line of text.split("\n")) {
    if (!line.includes('"case":"query-commands"')) continue;
    const entry = JSON.parse(line) as { recv: { return?: { name: string }[] }[] };
    commands = (entry.recv[0]?.return ?? []).map((c) => c.name);
    return commands;
  }
  commands = [];
  return commands;
}
