import { CONNECTION_FLAGS, defineCommand, parseCount } from "../cli.ts";
import { CliUsageError } from "../errors.ts";
import { writePaged } from "../pager.ts";
import { loadSchema, type SchemaIndex, suggestNames } from "../schema.ts";
import { schemaDiffText } from "../schema-diff.ts";
import { renderSchemaList, renderSchemaPath } from "../schema-view.ts";
import { connectionOptions, open, takeTarget } from "../session.ts";

async function loadSchemaFile(path: string): Promise<SchemaIndex> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new CliUsageError(`schema file '${path}' does not exist`);
  let raw: unknown;
  try {
    raw = await file.json();
  } catch (error) {
    throw new CliUsageError(`schema file '${path}' is not JSON: ${(error as Error).message}`);
  }
  // Accept a saved reply ({"return": [...]}) as well as the bare array.
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw) && "return" in raw) raw = raw.return;
  try {
    return loadSchema(raw);
  } catch (error) {
    throw new CliUsageError(`schema file '${path}': ${(error as Error).message}`);
  }
}

export const schemaCommand = defineCommand({
  name: "schema",
  summary: "list commands and events, or show one command's arguments, a type, a union branch",
  usage: "[options] (ADDRESS | --fake | --file FILE) [NAME[.MEMBER|.BRANCH]…]  |  --diff A B",
  description: [
    "Without NAME, lists every command and event the server knows (from query-qmp-schema).",
    "With NAME, shows that command's arguments and return type, or that event's data, in a",
    "TypeScript-like notation: 'name?: type' is optional, masked type names are expanded inline.",
    "NAME.BRANCH shows one branch of a union (blockdev-add.qcow2), NAME.MEMBER a member's type",
    "(blockdev-add.cache); they chain. QEMU masks type names, so a path from a command names a type.",
    "On a terminal the text goes through $PAGER (default 'less -R').",
    "--file reads a saved query-qmp-schema result instead of connecting.",
    "--emit-ts prints TypeScript types for every command and event of this QEMU (what @qmpkit/qmp",
    "ships for 7.2), to use as QMPClient<Commands, Events> with your QEMU version.",
    "--diff A B shows what changes for a client from A to B: commands and events added, removed or",
    "changed (arguments, returns, data, deprecated/unstable features). A and B are each a recorded",
    "version (7.2, 10.0), a saved query-qmp-schema file, or the address of a running QEMU.",
  ].join("\n"),
  flags: {
    ...CONNECTION_FLAGS,
    file: {
      type: "string",
      value: "FILE",
      description: "read the schema from FILE (a query-qmp-schema result)",
    },
    commands: { type: "boolean", description: "list only commands" },
    events: { type: "boolean", description: "list only events" },
    grep: { type: "string", value: "TEXT", description: "list only names containing TEXT" },
    depth: { type: "string", value: "N", description: "expand nested types N levels deep (default 4)" },
    "emit-ts": { type: "boolean", description: "print TypeScript types generated from the schema" },
    diff: { type: "boolean", description: "compare two schemas: --diff A B (7.2, 10.0, FILE or ADDRESS)" },
    json: { type: "boolean", description: "with --diff, print the differences as JSON" },
  },
  examples: [
    "qmpkit schema unix:/tmp/qmp.sock",
    "qmpkit schema --fake query-status",
    "qmpkit schema --file qemu-7.2-schema.json --grep block",
    "qmpkit schema localhost:4444 blockdev-add --depth 2",
    "qmpkit schema --fake blockdev-add.qcow2",
    "qmpkit schema unix:/tmp/qmp.sock --emit-ts > qemu-types.ts",
    "qmpkit schema --diff 7.2 10.0",
    "qmpkit schema --diff 7.2 unix:/tmp/qmp.sock --json",
  ],
  async run({ values, positionals }, io) {
    if (values.diff) {
      if (positionals.length !== 2)
        throw new CliUsageError(`--diff needs two schemas, A and B; got ${positionals.length}`);
      const sources = { io, connection: connectionOptions(values), loadFile: loadSchemaFile };
      io.stdout.write(
        `${await schemaDiffText(positionals[0] as string, positionals[1] as string, sources, { json: values.json === true })}\n`,
      );
      return 0;
    }
    const depth = parseCount("depth", values.depth);
    let index: SchemaIndex;
    let rest: string[];
    let qemuVersion: string | undefined;
    if (values.file !== undefined) {
      index = await loadSchemaFile(values.file);
      rest = [...positionals];
    } else {
      const taken = takeTarget(positionals, values);
      rest = taken.rest;
      const session = await open(io, taken.target, connectionOptions(values));
      try {
        index = loadSchema(await session.execute("query-qmp-schema"));
        qemuVersion = versionOf(session.greeting);
      } finally {
        await session.close();
      }
    }
    if (values["emit-ts"]) {
      if (rest.length > 0) throw new CliUsageError("--emit-ts prints every command and event; give no NAME");
      const { generateTypes } = await import("@qmpkit/qmp/qapi");
      const options = qemuVersion === undefined ? {} : { qemuVersion };
      io.stdout.write(generateTypes([...index.entries.values()], options));
      return 0;
    }
    if (rest.length > 1)
      throw new CliUsageError(`expected at most one NAME, got ${rest.length}: ${rest.join(" ")}`);
    const [name] = rest;
    if (name === undefined) {
      const kind =
        values.commands && !values.events ? "command" : values.events && !values.commands ? "event" : "all";
      await writePaged(
        io,
        `${renderSchemaList(index, { kind, ...(values.grep === undefined ? {} : { filter: values.grep }) })}\n`,
      );
      return 0;
    }
    const text = renderSchemaPath(index, name, depth === undefined ? {} : { maxDepth: depth });
    if (text === undefined) {
      const head = name.split(".")[0] as string;
      const near = suggestNames(index, head);
      throw new CliUsageError(
        `no command, event or type named '${head}'${near.length ? `; did you mean ${near.join(", ")}?` : ""}`,
      );
    }
    if (typeof text !== "string") throw new CliUsageError(text.error);
    await writePaged(io, `${text}\n`);
    return 0;
  },
});

/** "7.2.22" from a greeting's `QMP.version.qemu`, for the generated file's header. */
function versionOf(greeting: unknown): string | undefined {
  const qemu = (greeting as { QMP?: { version?: { qemu?: Record<string, unknown> } } } | undefined)?.QMP
    ?.version?.qemu;
  const parts = [qemu?.major, qemu?.minor, qemu?.micro];
  return parts.every((p) => typeof p === "number") ? parts.join(".") : undefined;
}
