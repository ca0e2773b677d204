/**
 * `qmpkit schema --diff A B`: what changes for a QMP client from one QEMU to another. A and B are each a
 * recorded generation (`7.2`, `10.0`, shipped inside the binary), a saved `query-qmp-schema` file, or the
 * address of a running QEMU.
 */
import { existsSync, statSync } from "node:fs";
import type { SchemaEntry, SchemaIndex } from "@qmpkit/qmp/qapi";
import { parseAddress } from "./address.ts";
import { CliUsageError } from "./errors.ts";
import { loadSchema } from "./schema.ts";
import { type ConnectionOptions, open } from "./session.ts";

/** What `--diff` needs from the command: where to connect from, and how to read a schema file. */
export interface DiffSources {
  readonly io: Parameters<typeof open>[0];
  readonly connection: ConnectionOptions;
  readonly loadFile: (path: string) => Promise<SchemaIndex>;
}

/** Diffs schema `from` against schema `to` and returns the report (or JSON with `json`). */
export async function schemaDiffText(
  from: string,
  to: string,
  sources: DiffSources,
  options: { json?: boolean } = {},
): Promise<string> {
  const [a, b] = await Promise.all([loadSource(from, sources), loadSource(to, sources)]);
  const { diffSchemas, formatSchemaDiff } = await import("@qmpkit/qmp/qapi");
  const diff = diffSchemas(a, b);
  return options.json ? JSON.stringify(diff, null, 2) : formatSchemaDiff(diff, { from, to });
}

async function loadSource(spec: string, sources: DiffSources): Promise<SchemaIndex | readonly SchemaEntry[]> {
  if (/^\d+\.\d+$/.test(spec)) {
    // The testkit's recorded machine profiles carry each generation's schema (and the binary embeds them).
    const { loadProfile, PROFILE_VERSIONS } = await import("@qmpkit/testkit");
    const version = PROFILE_VERSIONS.find((v) => v === spec);
    if (version === undefined) {
      throw new CliUsageError(
        `no schema recorded for QEMU ${spec}; recorded: ${PROFILE_VERSIONS.join(", ")} (or give a file or an address)`,
      );
    }
    return (await loadProfile({ qemuVersion: version, machine: "none" })).schema() as readonly SchemaEntry[];
  }
  // A path that exists and is not a socket is a saved schema; anything else is where a QEMU listens.
  if (existsSync(spec) && !statSync(spec).isSocket()) return sources.loadFile(spec);
  const session = await open(
    sources.io,
    { kind: "address", address: parseAddress(spec) },
    sources.connection,
  );
  try {
    return loadSchema(await session.execute("query-qmp-schema"));
  } finally {
    await session.close();
  }
}
