import type { FakeQemu, ReceivedMessage } from "@qmpkit/testkit";
import { parseHostPort } from "../address.ts";
import { defineCommand } from "../cli.ts";
import { UsageError } from "../errors.ts";
import { parseFakeScript, scriptedHandler } from "../fake-script.ts";

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
    throw new UsageError("--socket and --tcp exclude each other; pick one");
  }
  if (values.socket !== undefined) {
    if (values.socket === "") throw new UsageError("--socket needs a path");
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
    'JSON Lines on stdout: first {"listening": ADDRESS}, then {"client": N, "received": MESSAGE}',
    "for each message. Without --socket or --tcp it listens on a new unix socket in a private temp",
    "dir. It exits after a client sends quit (as QEMU does), or on Ctrl-C / SIGTERM.",
    "",
    "--script FILE gives canned answers, as JSON:",
    '  {"status": "paused", "commands": {"query-name": {"return": {"name": "vm1"}},',
    '   "device_del": {"error": {"class": "DeviceNotFound", "desc": "Device \'nic0\' not found"}},',
    '   "system_powerdown": {"events": [{"event": "POWERDOWN"}]}}}',
    "A list of replies is played in turn, the last one repeating.",
  ].join("\n"),
  flags: {
    socket: { type: "string", value: "PATH", description: "listen on a unix socket at PATH" },
    tcp: { type: "string", value: "HOST:PORT", description: "listen on TCP (port 0 picks a free port)" },
    script: {
      type: "string",
      value: "FILE",
      description: "canned replies and events, as JSON (see above)",
    },
    quiet: { type: "boolean", short: "q", description: "print only the listening line, not the traffic" },
  },
  examples: [
    "qmpkit fake",
    "qmpkit fake --socket /tmp/qmp.sock",
    "qmpkit fake --tcp 127.0.0.1:0 --script replies.json",
  ],
  async run({ values, positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const listen = fakeListenAddress(values);
    const script = values.script === undefined ? undefined : await loadScript(values.script);
    const quiet = values.quiet === true;
    const line = (value: unknown) => io.stdout.write(`${JSON.stringify(value)}\n`);
    const { startEmbeddedFake } = await import("../embedded-fake.ts");
    let fake: FakeQemu;
    try {
      fake = await startEmbeddedFake({
        ...(listen?.kind === "unix" ? { path: listen.path } : {}),
        ...(listen?.kind === "tcp" ? { tcp: true, hostname: listen.host, port: listen.port } : {}),
        ...script?.options,
        // A foreground fixture can run for hours: print, do not keep.
        record: false,
        ...(quiet ? {} : { onReceived: (entry: ReceivedMessage) => line(receivedLine(entry)) }),
      });
    } catch (error) {
      throw new UsageError(`cannot listen: ${causeMessage(error)}`, { cause: error });
    }
    for (const [name, replies] of script?.commands ?? []) fake.handle(name, scriptedHandler(replies));
    line({ listening: fake.address });
    // Like QEMU, the fake exits after `quit`; Ctrl-C or SIGTERM stop it too.
    const stop = () => void fake.close();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
      await fake.exited;
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      await fake.close();
    }
    for (const problem of fake.errors) io.stderr.write(`qmpkit fake: ${problem.message}\n`);
    return 0;
  },
});

/** One JSON line per received message: `{"client": 1, "received": {...}}`, or the raw text and QEMU's parse error. */
function receivedLine(entry: ReceivedMessage): Record<string, unknown> {
  return entry.error === undefined
    ? { client: entry.client, received: entry.message }
    : { client: entry.client, raw: entry.raw, error: entry.error };
}

async function loadScript(path: string) {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new UsageError(`script file '${path}' does not exist`);
  return parseFakeScript(await file.text(), path);
}

function causeMessage(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && parts.length < 3; e = e.cause) parts.push(e.message);
  return parts.join(": ") || String(error);
}
