#!/usr/bin/env bun
/**
 * qmpkit's entry point: global flags, subcommand dispatch, and the one place errors become
 * output and exit statuses (0 ok, 1 a QMP command failed, 2 usage or connection error).
 */

// A static JSON import is bundled by `bun build --compile`, so --version works in the binary.
import pkg from "../package.json" with { type: "json" };
// Only what every run needs is imported here: a command's module (and through it the client, the testkit) loads
// after the global flags, and only the one that runs, so `--version` starts about as fast as a hello-world.
import type { CliIO } from "./cli.ts";
import { COMMAND_TABLE, type CommandEntry } from "./commands/table.ts";
import { CliUsageError, ExitCode, exitCodeFor, isExecuteError } from "./errors.ts";
import { colorEnabled, formatCliError, formatQMPError } from "./format.ts";
import { OutputClosedError, standardOutputs, writeWhole } from "./output.ts";

export const VERSION: string = pkg.version;

/** `qmpkit --help`. */
export function renderMainHelp(): string {
  const width = Math.max(...COMMAND_TABLE.map((c) => c.name.length)) + 2;
  return [
    `qmpkit ${VERSION}: a toolkit for QEMU's machine protocol (QMP)`,
    "",
    "Usage: qmpkit [--debug] COMMAND [options] [ADDRESS] [ARGS...]",
    "",
    "Commands:",
    ...COMMAND_TABLE.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Addresses:",
    "  unix:PATH, or a PATH       a unix socket (QEMU: -qmp unix:PATH,server=on,wait=off)",
    "  tcp:HOST:PORT, HOST:PORT   TCP; [::1]:4444 for IPv6; add --tls for TLS",
    "  --fake                     an embedded fake QEMU: try everything with nothing installed",
    "",
    "Options:",
    "  -h, --help      show this help (or 'qmpkit COMMAND --help' for a command's)",
    "  -V, --version   print the version",
    "      --debug     print stack traces on errors (also: QMPKIT_DEBUG=1)",
    "",
    "Exit status: 0 success, 1 a QMP command failed, 2 usage or connection error.",
    "NO_COLOR set to anything disables colour.",
    "",
    "Start here: qmpkit shell --fake",
    "",
  ].join("\n");
}

/**
 * Runs qmpkit with `argv` (without the runtime and script) and resolves with the exit status.
 * Never throws: every error is printed here.
 */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const debug = argv.includes("--debug") || (io.env.QMPKIT_DEBUG ?? "") !== "";
  const color = colorEnabled(io.stderr, io.env);
  try {
    return await dispatch(argv, io);
  } catch (error) {
    // The reader of our output went away (`| head -1`): nothing to say, and nobody to say it to.
    if (error instanceof OutputClosedError) return error.exitCode;
    try {
      if (isExecuteError(error)) {
        io.stderr.write(`${formatQMPError(error, color)}\n`);
      } else {
        const message = error instanceof Error ? error.message : String(error);
        io.stderr.write(`${formatCliError(message, color)}\n`);
      }
      if (debug) io.stderr.write(`${describeForDebug(error)}\n`);
    } catch (writeError) {
      if (!(writeError instanceof OutputClosedError)) throw writeError;
    }
    return exitCodeFor(error);
  }
}

async function dispatch(argv: readonly string[], io: CliIO): Promise<number> {
  let i = 0;
  for (; i < argv.length && argv[i]?.startsWith("-"); i++) {
    const flag = argv[i];
    if (flag === "-h" || flag === "--help") {
      await writeWhole(io.stdout, renderMainHelp());
      return ExitCode.ok;
    }
    if (flag === "-V" || flag === "--version") {
      await writeWhole(io.stdout, `qmpkit ${VERSION}\n`);
      return ExitCode.ok;
    }
    if (flag !== "--debug") throw new CliUsageError(`unknown option '${flag}' (see 'qmpkit --help')`);
  }
  let name = argv[i];
  let rest = argv.slice(i + 1);
  if (name === undefined) {
    io.stderr.write(renderMainHelp());
    return ExitCode.usage;
  }
  // `qmpkit help exec` is `qmpkit exec --help`.
  if (name === "help") {
    if (rest[0] === undefined) {
      io.stdout.write(renderMainHelp());
      return ExitCode.ok;
    }
    [name, rest] = [rest[0], ["--help"]];
  }
  // QEMU's arguments, not qmpkit's: handed over unparsed (only a lone `--help` is qmpkit's; `-help` is QEMU's).
  if (name === "fake-qemu" && !(rest.length === 1 && rest[0] === "--help"))
    return await (await import("./commands/fake-qemu.ts")).runFakeQemu(rest, io);
  const entry = commandNamed(name);
  if (!entry) {
    const near = COMMAND_TABLE.filter((c) => c.name.startsWith(name.slice(0, 2))).map((c) => c.name);
    const hint = near.length > 0 ? `; did you mean ${near.join(" or ")}?` : "";
    throw new CliUsageError(`unknown command '${name}'${hint} (see 'qmpkit --help')`);
  }
  const spec = await entry.load();
  const input = spec.parseArgs(rest);
  if (input.values.help) {
    io.stdout.write(spec.help());
    return ExitCode.ok;
  }
  return await spec.run(input, io);
}

/**
 * The table's entry for `name`. A loop, not `Array#find`: nothing else on exec's path calls `find`, and a builtin's
 * first call costs the compiled binary its set-up.
 */
function commandNamed(name: string): CommandEntry | undefined {
  for (let i = 0; i < COMMAND_TABLE.length; i++) if (COMMAND_TABLE[i]?.name === name) return COMMAND_TABLE[i];
  return undefined;
}

/** Stack and `cause` chain, for --debug. */
function describeForDebug(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    parts.push(
      depth === 0
        ? String((current as Error)?.stack ?? current)
        : `caused by: ${String((current as Error)?.stack ?? current)}`,
    );
    current = (current as { cause?: unknown })?.cause;
  }
  return parts.join("\n");
}

if (import.meta.main) {
  // The binary starts with the JIT held back (`--compile-jit-policy` in package.json's build): start-up code runs
  // once, and compiling it on this 2-core machine's other core cost `exec --fake` more than it saved. A command
  // still running after its start-up (a shell, an event tail, a fake serving a test suite) gets the normal JIT.
  setTimeout(() => Bun.unsafe.setJITPolicy(1), 200).unref();
  const { stdout, stderr } = standardOutputs();
  const io: CliIO = {
    stdout,
    stderr,
    // Only the shell reads stdin or needs Node's stream for its line editor: creating either costs
    // start-up time for every other command.
    get stdin() {
      return process.stdin;
    },
    get terminal() {
      return process.stdout;
    },
    env: process.env,
    exitsAfterRun: true,
  };
  // Run through a link named qemu-system-x86_64 (a libvirt <emulator>, a harness's QEMU path), qmpkit is the
  // fake QEMU. process.argv0 is the name it was run by (Bun.argv[0] is always "bun" in a compiled binary).
  const invokedAs = process.argv0.slice(process.argv0.lastIndexOf("/") + 1);
  const run = invokedAs.startsWith("qemu-system-")
    ? import("./commands/fake-qemu.ts").then((m) => m.runFakeQemu(Bun.argv.slice(2), io, invokedAs))
    : main(Bun.argv.slice(2), io);
  // exit() once the output has drained: a command may leave a connection open for the exit to close (see
  // CliIO.exitsAfterRun). No top-level await: `--bytecode` refuses it.
  void run.then(async (code) => {
    // One after the other, not Promise.all(): neither waits (see FdOutput.flush), and a builtin's first call costs
    // a compiled binary its set-up.
    await stdout.flush();
    await stderr.flush();
    process.exit(code);
  });
}
