import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseHostPort } from "../address.ts";
import { defineCommand } from "../cli.ts";
import { CliUsageError } from "../errors.ts";
import { type FakeScript, parseFakeScript } from "../fake-script.ts";

/** Where `qmpkit fake` listens, from its flags. `undefined` means a fresh socket in a temp dir. */
export type FakeListen =
  | { kind: "unix"; path: string }
  | { kind: "tcp"; host: string; port: number }
  | undefined;

export function fakeListenAddress(values: {
  socket?: string | undefined;
  tcp?: string | undefined;
}): FakeListen {
  if (values.socket !== undefined && values.tcp !== undefined) {
    throw new CliUsageError("--socket and --tcp exclude each other; pick one");
  }
  if (values.socket !== undefined) {
    if (values.socket === "") throw new CliUsageError("--socket needs a path");
    return { kind: "unix", path: values.socket };
  }
  if (values.tcp !== undefined) return { kind: "tcp", ...parseHostPort(values.tcp, true) };
  return undefined;
}

export const fakeCommand = defineCommand({
  name: "fake",
  summary: "run the fake QEMU in the foreground: a mock QMP server for any language's tests",
  usage: "[options] [--socket PATH | --tcp HOST:PORT]",
  description: [
    "Serves QMP like QEMU 7.2 does (greeting, negotiation, query-status, stop/cont with events,",
    "quit, the recorded schema, a small QOM tree, errors with QEMU's classes and texts) and prints",
    'JSON Lines on stdout: first {"type": "listening", "address": ADDRESS}, then one',
    '{"type": "received", "client": N, "message": MESSAGE, "raw": TEXT, "at": MS} per message.',
    "Without --socket or --tcp it listens on a new unix socket in a private temp dir. It exits",
    "after a client sends quit (as QEMU does; --keep-running stays up), or on Ctrl-C / SIGTERM.",
    "",
    "--script FILE.json gives canned answers without writing code:",
    '  {"status": "paused", "commands": {"query-name": {"return": {"name": "vm1"}},',
    '   "device_del": {"error": {"class": "DeviceNotFound", "desc": "Device \'nic0\' not found"}},',
    '   "system_powerdown": {"events": [{"event": "POWERDOWN"}]}}}',
    "A list of replies is played in turn, the last one repeating. --script FILE.ts (or .js) is a",
    "module whose default export receives the testkit's fake: (fake) => { fake.handle(...) }; it",
    "starts from the testkit's defaults, without qmpkit's QOM tree and idle job answers.",
  ].join("\n"),
  flags: {
    socket: { type: "string", value: "PATH", description: "listen on a unix socket at PATH" },
    tcp: { type: "string", value: "HOST:PORT", description: "listen on TCP (port 0 picks a free port)" },
    script: {
      type: "string",
      value: "FILE",
      description: "canned replies (.json), or a module scripting the fake (.ts/.js)",
    },
    machine: {
      type: "string",
      value: "NAME",
      description: "the machine to stand in for: none (default) or q35, as recorded from QEMU 7.2",
    },
    "qemu-version": {
      type: "string",
      value: "V",
      description: "answer like QEMU 7.2 (default) or 10.0: its greeting, schema and recorded replies",
    },
    "multi-client": {
      type: "boolean",
      description: "serve several clients at once (QEMU serves one at a time)",
    },
    "keep-running": { type: "boolean", description: "stay up after quit (close only that client)" },
    quiet: { type: "boolean", short: "q", description: "print only the listening line, not the traffic" },
  },
  examples: [
    "qmpkit fake",
    "qmpkit fake --socket /tmp/qmp.sock",
    "qmpkit fake --machine q35",
    "qmpkit fake --machine q35 --qemu-version 10.0",
    "qmpkit fake --tcp 127.0.0.1:0 --script replies.json",
  ],
  async run({ values, positionals }, io) {
    if (positionals.length > 0) throw new CliUsageError(`unexpected argument '${positionals[0]}'`);
    const listen = fakeListenAddress(values);
    const json = values.script?.endsWith(".json") ? await loadJsonScript(values.script) : undefined;
    if (values.script !== undefined && json === undefined && !(await Bun.file(values.script).exists())) {
      throw new CliUsageError(`script file '${values.script}' does not exist`);
    }
    const [{ mkdtempSync, rmSync }, { runFakeCli }, { applyFakeScript }] = await Promise.all([
      import("node:fs"),
      import("@qmpkit/testkit"),
      import("../fake-script.ts"),
    ]);
    const dir = listen === undefined ? mkdtempSync(join(tmpdir(), "qmpkit-fake-")) : undefined;
    const argv = [
      ...(listen?.kind === "tcp"
        ? ["--tcp", `${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${listen.port}`]
        : ["--socket", listen?.path ?? join(dir as string, "qmp.sock")]),
      ...(values.script !== undefined && json === undefined ? ["--script", values.script] : []),
      ...(values.machine !== undefined ? ["--machine", values.machine] : []),
      ...(values["qemu-version"] !== undefined ? ["--qemu-version", values["qemu-version"]] : []),
      ...(values["multi-client"] ? ["--multi-client"] : []),
      ...(values["keep-running"] ? ["--keep-running"] : []),
    ];
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      return await runFakeCli(argv, {
        signal: stop.signal,
        stdout: (line) => {
          if (!values.quiet || line.startsWith('{"type":"listening"')) io.stdout.write(`${line}\n`);
        },
        stderr: (line) => io.stderr.write(`qmpkit fake: ${line}\n`),
        // Runs before any client can connect (the same turn as the listening line).
        onListening: (fake) => {
          if (json) applyFakeScript(fake, json);
        },
      });
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  },
});

async function loadJsonScript(path: string): Promise<FakeScript> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new CliUsageError(`script file '${path}' does not exist`);
  return parseFakeScript(await file.text(), path);
}
