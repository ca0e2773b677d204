import { parseHostPort } from "../address.ts";
import { defineCommand } from "../cli.ts";
import { NotImplementedError, UsageError } from "../errors.ts";

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
    "Serves QMP like QEMU does (greeting, negotiation, query-status, stop/cont with events,",
    "quit, the QEMU 7.2 schema, errors with QEMU's classes) and prints each message it receives.",
    "Without --socket or --tcp it listens on a new unix socket in a temp dir and prints its",
    "address. --script FILE scripts replies and events for particular commands.",
  ].join("\n"),
  flags: {
    socket: { type: "string", value: "PATH", description: "listen on a unix socket at PATH" },
    tcp: { type: "string", value: "HOST:PORT", description: "listen on TCP (port 0 picks a free port)" },
    script: {
      type: "string",
      value: "FILE",
      description: "replies and events to script (see the testkit README)",
    },
    quiet: { type: "boolean", short: "q", description: "print only the address, not the traffic" },
  },
  examples: [
    "qmpkit fake",
    "qmpkit fake --socket /tmp/qmp.sock",
    "qmpkit fake --tcp 127.0.0.1:0 --script replies.json",
  ],
  async run({ values, positionals }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    fakeListenAddress(values);
    if (values.script !== undefined && !(await Bun.file(values.script).exists())) {
      throw new UsageError(`script file '${values.script}' does not exist`);
    }
    // Seam: createFakeQemu({ listen, script }) from @qmpkit/testkit, print its address, log traffic.
    throw new NotImplementedError(
      "'qmpkit fake' is not implemented yet: the testkit's fake QEMU is still being written",
    );
  },
});
