import type { QGAClient } from "@qmpkit/qmp/qga";
import { parseAddress } from "../address.ts";
import { type CliIO, defineCommand, parseSeconds } from "../cli.ts";
import { CliUsageError, ConnectionFailedError } from "../errors.ts";
import { detectStyle, formatJson } from "../format.ts";
import { describeTarget, toSocketAddress } from "../session.ts";

/** @default 10 s for one agent command; `exec` waits for its program without a limit unless --timeout. */
const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

export const gaCommand = defineCommand({
  name: "ga",
  summary: "run a QEMU guest agent (qemu-ga) command, or a program in the guest",
  usage: "[options] ADDRESS (COMMAND [KEY=VALUE ...] | exec -- PROGRAM [ARGS ...])",
  description: [
    "Talks to a guest agent's socket (the host end of its virtio-serial channel, or qemu-ga's own",
    "unix-listen socket). It first resynchronises (0xFF, guest-sync-delimited) so stale replies",
    "left on the channel are skipped, then sends COMMAND and prints the return value as JSON",
    "(pretty on a terminal, compact otherwise). Arguments work as in 'qmpkit exec'. An agent",
    "error prints 'ErrorClass: desc' on stderr and exits 1; connection problems exit 2.",
    "",
    "'exec -- PROGRAM ARGS...' runs PROGRAM in the guest (guest-exec, then guest-exec-status until",
    "it exits), writes its stdout and stderr to ours, and exits with its exit status, like ssh.",
    "When our stdin is not a terminal, it is read to its end first and given to the program as its",
    "stdin (guest-exec's input-data); --no-stdin leaves it alone (the program reads /dev/null).",
  ].join("\n"),
  flags: {
    pretty: { type: "boolean", short: "p", description: "indent the JSON even when not on a terminal" },
    compact: { type: "boolean", description: "one-line JSON even on a terminal" },
    timeout: {
      type: "string",
      value: "SECONDS",
      description: "fail if the agent takes longer than SECONDS (default 10; exec: no limit)",
    },
    "connect-timeout": {
      type: "string",
      value: "SECONDS",
      description: "give up connecting and synchronising after SECONDS (default 10)",
    },
    "dry-run": { type: "boolean", short: "n", description: "print the message instead of sending it" },
    "no-stdin": { type: "boolean", description: "exec: do not pass our stdin to the program (ssh -n)" },
  },
  examples: [
    "qmpkit ga unix:/run/vm1/qga.sock guest-ping",
    "qmpkit ga /run/vm1/qga.sock guest-get-osinfo",
    "qmpkit ga /run/vm1/qga.sock exec -- /bin/uname -r",
    "qmpkit ga /run/vm1/qga.sock exec -- /bin/sh -c 'cat > /tmp/x' < local-file",
  ],
  async run({ values, positionals, rest }, io) {
    const [address, ...words] = [...positionals, ...rest];
    if (address === undefined || words.length === 0) {
      throw new CliUsageError(
        "no guest agent address given; pass one as unix:PATH or tcp:HOST:PORT (a plain path works too)",
      );
    }
    const target = parseAddress(address);
    const timeout = parseSeconds("timeout", values.timeout);
    const connectTimeout = parseSeconds("connect-timeout", values["connect-timeout"]);
    const program = words[0] === "exec" ? words.slice(1) : undefined;
    if (program !== undefined && program.length === 0) {
      throw new CliUsageError("exec needs a program, as in: qmpkit ga ADDRESS exec -- /bin/uname -r");
    }
    // exec's module through the import() the command table uses: a static import would make it a chunk that both
    // commands share, and every `exec` would load one chunk more (a re-export stub) to reach it.
    const message =
      program === undefined ? (await import("./exec.ts")).buildExecMessage(words, false) : undefined;
    if (values["dry-run"]) {
      const shown = message ?? {
        execute: "guest-exec",
        arguments: { path: program?.[0], arg: program?.slice(1), "capture-output": true },
      };
      io.stdout.write(`${JSON.stringify(shown, null, values.pretty ? 2 : undefined)}\n`);
      return 0;
    }
    const { QGAClient } = await import("@qmpkit/qmp/qga");
    const qga = new QGAClient({
      commandTimeoutMs: timeout === undefined ? DEFAULT_COMMAND_TIMEOUT_MS : timeout * 1000,
    });
    const label = describeTarget({ kind: "address", address: target });
    try {
      await qga.connect(toSocketAddress(target), { timeoutMs: (connectTimeout ?? 10) * 1000 });
    } catch (error) {
      throw new ConnectionFailedError(`cannot connect to the guest agent at ${label}: ${explain(error)}`, {
        cause: error,
      });
    }
    try {
      if (program !== undefined) {
        const input = values["no-stdin"] || io.stdin.isTTY === true ? undefined : await readAll(io.stdin);
        return await runProgram(qga, program, timeout, input, io);
      }
      const { execute, arguments: args } = message as {
        execute: string;
        arguments?: Record<string, unknown>;
      };
      // The guest's clock in nanoseconds exceeds 2^53: getTime() keeps it exact (printed as a JSON integer).
      const result =
        execute === "guest-get-time" && Object.keys(args ?? {}).length === 0
          ? await qga.getTime()
          : await qga.executeUntyped(execute, args);
      // Commands without a reply (guest-shutdown, guest-suspend-*) resolve with nothing to print.
      if (result !== undefined) {
        const style = detectStyle(
          io.stdout,
          io.env,
          values.pretty ? true : values.compact ? false : undefined,
        );
        io.stdout.write(`${formatJson(result, style)}\n`);
      }
      return 0;
    } finally {
      await qga.disconnect().catch(() => {});
    }
  },
});

async function runProgram(
  qga: QGAClient,
  [path, ...args]: readonly string[],
  timeout: number | undefined,
  input: Uint8Array | undefined,
  io: CliIO,
): Promise<number> {
  // Bytes, not text: the program's output is passed on as it is, like a local exec would.
  const result = await qga.exec(path as string, args, {
    encoding: "bytes",
    // Empty input is the same end of file as /dev/null, so the request stays as it was without it.
    ...(input === undefined || input.length === 0 ? {} : { input }),
    ...(timeout === undefined ? {} : { timeoutMs: timeout * 1000 }),
  });
  if (result.stdout.length > 0) io.stdout.write(result.stdout);
  if (result.stderr.length > 0) io.stderr.write(result.stderr);
  for (const [name, cut] of [
    ["stdout", result.stdoutTruncated],
    ["stderr", result.stderrTruncated],
  ] as const) {
    if (cut) io.stderr.write(`qmpkit: the agent cut the program's ${name} (it keeps at most 16 MiB)\n`);
  }
  if (result.exitcode !== undefined) return result.exitcode;
  io.stderr.write(`qmpkit: ${path} was killed by signal ${result.signal ?? "?"}\n`);
  return 128 + (result.signal ?? 0);
}

/** Our stdin to its end, as bytes (the guest program's input need not be text). */
async function readAll(stdin: CliIO["stdin"]): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stdin) {
    chunks.push(typeof chunk === "string" ? new TextEncoder().encode(chunk) : (chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

function explain(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  // QGASyncError's own message already says what to check.
  if (code === "ENOENT") return `${message} (no socket at that path)`;
  return message;
}
