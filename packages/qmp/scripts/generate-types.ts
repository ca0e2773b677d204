/**
 * Generate TypeScript types from a QAPI introspection schema.
 *
 *   bun packages/qmp/scripts/generate-types.ts --schema schema.json [--out qemu-types.ts]
 *   bun packages/qmp/scripts/generate-types.ts --socket /run/qemu/qmp.sock [--out qemu-types.ts]
 *
 * `--schema` reads a file holding the `query-qmp-schema` return value (or a whole `{"return": [...]}` reply);
 * `--socket` asks a running QEMU. Without `--out` the source goes to stdout.
 */

import { parseArgs } from "node:util";
import { generateTypes } from "../src/qapi/generate.ts";
import { parseSchema, type SchemaEntry } from "../src/qapi/schema.ts";
import { fetchSchema } from "./fetch-schema.ts";

const usage = `usage: bun packages/qmp/scripts/generate-types.ts (--schema FILE | --socket PATH) [--out FILE]
  --schema FILE          a saved query-qmp-schema reply (its "return" array, or the whole reply)
  --socket PATH          a running QEMU's QMP unix socket
  --out FILE             where to write the TypeScript (default: stdout)
  --qemu-version X.Y.Z   version recorded in the header (default: from the greeting with --socket)`;

/** Read a schema file: either the bare array or a whole `{"return": [...]}` reply. */
export async function readSchemaFile(path: string): Promise<SchemaEntry[]> {
  const json: unknown = await Bun.file(path).json();
  const value = typeof json === "object" && json !== null && "return" in json ? json.return : json;
  return parseSchema(value);
}

async function main(argv: string[]): Promise<number> {
  let values: { schema?: string; socket?: string; out?: string; "qemu-version"?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        schema: { type: "string" },
        socket: { type: "string" },
        out: { type: "string" },
        "qemu-version": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help === true) {
    console.log(usage);
    return 0;
  }
  if ((values.schema === undefined) === (values.socket === undefined)) {
    console.error(`give exactly one of --schema and --socket\n${usage}`);
    return 2;
  }

  let schema: SchemaEntry[];
  let qemuVersion = values["qemu-version"];
  if (values.schema !== undefined) {
    schema = await readSchemaFile(values.schema);
  } else {
    const fetched = await fetchSchema(values.socket ?? "");
    schema = fetched.schema;
    qemuVersion ??= fetched.qemuVersion;
  }
  const source = generateTypes(schema, qemuVersion === undefined ? {} : { qemuVersion });
  if (values.out === undefined) process.stdout.write(source);
  else {
    await Bun.write(values.out, source);
    console.error(`wrote ${values.out}: ${source.split("\n").length - 1} lines, ${source.length} bytes`);
  }
  return 0;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(Bun.argv.slice(2));
  } catch (error) {
    console.error(`generate-types: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
