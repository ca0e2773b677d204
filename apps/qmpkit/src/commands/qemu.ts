import type { QemuProcess } from "@qmpkit/testkit";
import { defineCommand, parseSeconds } from "../cli.ts";
import { CliError, CliUsageError, ExitCode } from "../errors.ts";
import { open, type Session } from "../session.ts";
import { loadShell, SHELL_FLAGS, shellOptions } from "./shell.ts";

/** QEMU could not be started, or exited before its QMP socket was ready. Exits with QEMU's status if it had one. */
export class QemuStartError extends CliError {
  override name = "QemuStartError";
  override readonly code = "QMPKIT_ERR_QEMU_START";
  override readonly exitCode: number;

  constructor(message: string, options: { cause?: unknown; exitCode?: number | undefined } = {}) {
    super(message, { cause: options.cause });
    // QEMU's own failure status when it has one (0 would claim success), else a usage error.
    this.exitCode = options.exitCode ? options.exitCode : ExitCode.usage;
  }
}

/** How long QEMU gets to exit after the shell sent `quit`, before it is killed. */
const QUIT_GRACE_MS = 10_000;

export const qemuCommand = defineCommand({
  name: "qemu",
  summary: "start QEMU with a QMP socket and open the shell on it (qmp-shell-wrap)",
  usage: "[options] -- QEMU-ARGS...",
  description: [
    "Starts QEMU with your arguments plus '-qmp unix:SOCKET,server=on,wait=off' (a socket in a",
    "private temp dir, removed afterwards) and opens the shell on it. QEMU exiting (say, after",
    "'quit') ends the shell, and qmpkit exits with QEMU's exit status. Leaving the shell",
    "(Ctrl-D, or the end of piped input) sends quit and waits for QEMU to exit. QEMU's stdout",
    "is discarded; its stderr is shown when it fails.",
  ].join("\n"),
  flags: {
    binary: { type: "string", value: "PATH", description: "the QEMU to run (default qemu-system-x86_64)" },
    "start-timeout": {
      type: "string",
      value: "SECONDS",
      description: "give up if the QMP socket is not ready after SECONDS (default 10)",
    },
    ...SHELL_FLAGS,
  },
  examples: [
    "qmpkit qemu -- -machine none -nodefaults -display none",
    "echo query-status | qmpkit qemu -- -machine none -display none",
    "qmpkit qemu --binary qemu-system-aarch64 -H -- -M virt -display none",
  ],
  async run({ values, positionals, rest }, io) {
    if (positionals.length > 0) {
      throw new CliUsageError(
        `QEMU's arguments go after '--', as in: qmpkit qemu -- ${positionals.join(" ")}`,
      );
    }
    // QEMU would fork into the background and its parent exit: the shell would talk to nothing it can wait for.
    const detach = rest.find((a) => /^--?daemonize$/.test(a));
    if (detach !== undefined) {
      throw new CliUsageError(
        `'${detach}' would leave a QEMU qmpkit cannot follow or stop; start it yourself with -qmp and use 'qmpkit shell ADDRESS'`,
      );
    }
    const startTimeout = parseSeconds("start-timeout", values["start-timeout"]);
    const options = shellOptions(values, io);
    const { runShell } = await loadShell();
    const qemu = await start(values.binary, rest, startTimeout);
    // The launcher's exit hook kills QEMU and removes its temp dir; a signal must end us through it too.
    const { cleanUpOnExit } = await import("../cleanup.ts");
    const forget = cleanUpOnExit(() => {});
    let exitCode: number | undefined;
    void qemu.exited.then((code) => {
      exitCode = code;
    });
    try {
      let session: Session;
      try {
        session = await open(io, { kind: "address", address: { kind: "unix", path: qemu.path } }, {});
      } catch (error) {
        // QEMU may fail after creating its socket (gtk initialization failed): the connection breaks
        // before QEMU's exit is reaped. Its own message explains far more than ECONNRESET does.
        const code = exitCode ?? (await exitWithin(qemu, EXIT_AFTER_FAILED_CONNECT_MS));
        if (code === undefined) throw error;
        throw exitedEarly(qemu, code, error);
      }
      let shellStatus: number;
      try {
        shellStatus = await runShell(session, options, io);
        // The input ended with QEMU still up: ask it to quit, as qmp-shell-wrap does.
        if (exitCode === undefined) await session.execute("quit").catch(() => {});
      } finally {
        // QEMU's exit status reports how the session ended; a broken socket says nothing more.
        await session.close().catch(() => {});
      }
      const qemuStatus = await waitForExit(qemu);
      if (qemuStatus !== 0)
        io.stderr.write(`qmpkit: QEMU exited with status ${qemuStatus}${stderrTail(qemu)}\n`);
      return shellStatus !== 0 ? shellStatus : qemuStatus;
    } finally {
      await qemu[Symbol.asyncDispose]();
      forget();
    }
  },
});

async function start(
  binary: string | undefined,
  args: readonly string[],
  timeoutSeconds: number | undefined,
): Promise<QemuProcess> {
  // Loaded here, not at start-up: only this command needs the launcher.
  const { SpawnQemuError, spawnQemu } = await import("@qmpkit/testkit");
  try {
    return await spawnQemu({
      args: [...args],
      ...(binary === undefined ? {} : { binary }),
      ...(timeoutSeconds === undefined ? {} : { timeoutMs: timeoutSeconds * 1000 }),
    });
  } catch (error) {
    if (!(error instanceof SpawnQemuError)) throw error;
    // SpawnQemuError's message ends with QEMU's stderr on extra lines: keep the error to one line.
    let first = error.message.split("\n", 1)[0] ?? error.message;
    // Not started at all: say why (no such file, not executable).
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (cause !== undefined && error.exitCode === undefined) {
      const why =
        cause.code === "ENOENT"
          ? "no such file (or not on PATH)"
          : cause.code === "EACCES"
            ? "not executable"
            : String(cause.message ?? cause.code ?? "");
      if (why !== "") first = `${first}: ${why}`;
    }
    const stderr = oneLine(error.stderr);
    throw new QemuStartError(`${first}${stderr ? `: ${stderr}` : ""}`, {
      cause: error,
      exitCode: error.exitCode,
    });
  }
}

/** How long a QEMU whose socket broke on us gets to show that it is exiting. */
const EXIT_AFTER_FAILED_CONNECT_MS = 3000;

/** QEMU's exit status if it exits within `ms`, else undefined. */
async function exitWithin(qemu: QemuProcess, ms: number): Promise<number | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([qemu.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for QEMU to exit after `quit`; kills it if it does not within {@link QUIT_GRACE_MS}. */
async function waitForExit(qemu: QemuProcess): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), QUIT_GRACE_MS);
  });
  const first = await Promise.race([qemu.exited, late]);
  clearTimeout(timer);
  return first === "late" ? qemu.kill("SIGKILL") : first;
}

function exitedEarly(qemu: QemuProcess, code: number, cause: unknown): CliError {
  return new QemuStartError(`QEMU exited with status ${code} before the shell connected${stderrTail(qemu)}`, {
    cause,
    exitCode: code,
  });
}

function stderrTail(qemu: QemuProcess): string {
  const text = oneLine(qemu.stderr());
  return text ? `: ${text}` : "";
}

/** QEMU's stderr as one line: its last few non-empty lines joined, so a one-line error stays one line. */
function oneLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  return lines.slice(-3).join("; ");
}
