/**
 * `spawnQemu()`: a real `qemu-system-*` with its QMP monitor on a unix socket in a private temp dir, for tests
 * that must talk to the real thing. The process and the dir are always cleaned up: by `kill()`/dispose, and by
 * a process-exit hook for whatever a crashed test left behind.
 */

import { constants, existsSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settlesWithin } from "@qmpkit/protocol-core";
import type { Subprocess } from "bun";
import { SpawnQemuError } from "./errors.ts";
import { QEMU10_SHARED_DIR, type QemuRelease, qemu10Binary, requireQemu10 } from "./qemu-10.ts";

/** Options of {@link spawnQemu}. */
export interface SpawnQemuOptions {
  /**
   * Which QEMU: `"7.2"` is `binary` (the host's; Debian 12 ships 7.2), `"10.0"` the Debian 13 tree built by
   * `scripts/qemu-10.0-tree.sh` (see {@link qemu10Binary}), whose socket then lives under /tmp, the directory
   * the tree shares with the host.
   * @default "7.2"
   */
  qemuVersion?: QemuRelease;
  /** The QEMU binary (with `qemuVersion: "10.0"`, the tree's wrapper). @default "qemu-system-x86_64" */
  binary?: string;
  /** Arguments before `-qmp`. @default ["-machine", "none", "-nodefaults", "-display", "none"] */
  args?: string[];
  /** Arguments appended after the defaults (or after `args`). @default [] */
  extraArgs?: string[];
  /** How long QEMU may take until its QMP socket accepts a connection. @default 10000 */
  timeoutMs?: number;
}

/** A running QEMU started by {@link spawnQemu}. */
export interface QemuProcess extends AsyncDisposable {
  /** `unix:<dir>/qmp.sock`, ready for `connect()`. */
  readonly address: string;
  /** The QMP socket path. */
  readonly path: string;
  /** QEMU's process id. */
  readonly pid: number;
  /** Resolves with QEMU's exit code (or the signal's number + 128) once it has exited. */
  readonly exited: Promise<number>;
  /** Sends `signal` (default SIGKILL) and resolves once QEMU has exited. */
  kill(signal?: NodeJS.Signals | number): Promise<number>;
  /** Sends `signal` without waiting for anything (`SIGSTOP` freezes QEMU: it then answers nothing). */
  signal(signal: NodeJS.Signals | number): void;
  /** What QEMU wrote to stderr so far (at most 64 KiB). */
  stderr(): string;
}

/** The default machine: no devices, no display, nothing to boot. */
export const DEFAULT_QEMU_ARGS: readonly string[] = ["-machine", "none", "-nodefaults", "-display", "none"];
const DEFAULT_BINARY = "qemu-system-x86_64";
const STDERR_LIMIT = 64 * 1024;

const live = new Set<{ proc: Subprocess; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // For programs that exit normally without disposing: no orphaned QEMU, no stray temp dir.
  process.once("exit", () => {
    for (const { proc, dir } of live) {
      try {
        proc.kill("SIGKILL");
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// `bun test` ends without emitting "exit", and a timed-out test never reaches its `await using` cleanup (bun
// then kills the children it started, but not their temp dirs). So a watchdog outlives us: a background shell
// that reads "add PID DIR" / "del PID" lines from a FIFO whose only writer is this process, and when the FIFO
// reaches EOF (we are gone, the kernel closed our end) kills the QEMUs still listed and removes their dirs. It
// is a grandchild (the shell we spawn backgrounds it and exits) so that bun's clean-up of children spares it.
const WATCHDOG_SCRIPT = `fifo=$1; dir=$2
(
  exec <"$fifo"
  list=""
  while read -r op pid qdir; do
    if [ "$op" = add ]; then list="$list
$pid $qdir"; else list=$(printf '%s\n' "$list" | grep -v "^$pid "); fi
  done
  printf '%s\n' "$list" | while read -r pid qdir; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    [ -n "$qdir" ] && rm -rf -- "$qdir"
  done
  rm -rf -- "$dir"
) >/dev/null 2>&1 &
`;
let watchdogFd: number | null | undefined;
let watchdogStarting: Promise<void> | undefined;

/** Starts the watchdog once per process; without mkfifo or /bin/sh, disposal and the exit hook remain. */
function startWatchdog(): Promise<void> {
  watchdogStarting ??= (async () => {
    watchdogFd = null;
    try {
      const dir = mkdtempSync(join(tmpdir(), "qmpkit-watchdog-"));
      const fifo = join(dir, "fifo");
      if (Bun.spawnSync(["mkfifo", "-m", "600", fifo]).exitCode !== 0) {
        rmSync(dir, { recursive: true, force: true });
        return;
      }
      const shell = Bun.spawn(["/bin/sh", "-c", WATCHDOG_SCRIPT, "qmpkit-watchdog", fifo, dir], {
        stdin: "ignore",
        stdout: "ignore",
        stderr: "ignore",
      });
      await shell.exited;
      // A non-blocking open for writing fails (ENXIO) until the watchdog has opened the FIFO for reading.
      for (let attempt = 0; attempt < 200 && watchdogFd === null; attempt++) {
        try {
          watchdogFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
        } catch {
          await Bun.sleep(5);
        }
      }
    } catch {
      watchdogFd = null;
    }
  })();
  return watchdogStarting;
}

function tellWatchdog(line: string): void {
  if (watchdogFd === null || watchdogFd === undefined) return;
  try {
    writeSync(watchdogFd, `${line}\n`);
  } catch {
    // The watchdog is gone; disposal and the exit hook remain.
  }
}

/** Whether `binary` (default `qemu-system-x86_64`) is on the PATH. */
export function hasQemu(binary: string = DEFAULT_BINARY): boolean {
  return Bun.which(binary) !== null;
}

/**
 * Whether real-QEMU tests should be skipped: only when QEMU is missing and `CI` is not `"true"`. In CI a
 * missing QEMU must fail, so those tests run and {@link requireQemu} fails them.
 *
 * @example
 * test.skipIf(skipWithoutQemu())("talks to real QEMU", async () => { requireQemu(); … });
 */
export function skipWithoutQemu(binary: string = DEFAULT_BINARY): boolean {
  return !hasQemu(binary) && process.env.CI !== "true";
}

/** Throws a clear {@link SpawnQemuError} when QEMU is not installed (use at the top of a real-QEMU test). */
export function requireQemu(binary: string = DEFAULT_BINARY): void {
  if (hasQemu(binary)) return;
  throw new SpawnQemuError(
    `${binary} is not installed${process.env.CI === "true" ? " (CI=true requires it: install qemu-system-x86)" : ""}`,
  );
}

async function canConnect(path: string): Promise<boolean> {
  try {
    const socket = await Bun.connect({ unix: path, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts QEMU with `-qmp unix:<tmp>/qmp.sock,server=on,wait=off` and resolves once the socket accepts. If QEMU
 * exits first, or does not get there within `timeoutMs`, it is killed, the dir removed, and the promise rejects
 * with a {@link SpawnQemuError} carrying QEMU's stderr.
 *
 * @example
 * await using qemu = await spawnQemu();
 * const client = await connect(qemu.address);
 */
export async function spawnQemu(options: SpawnQemuOptions = {}): Promise<QemuProcess> {
  const inTree = options.qemuVersion === "10.0";
  if (inTree && options.binary === undefined) requireQemu10();
  const binary = options.binary ?? (inTree ? qemu10Binary() : DEFAULT_BINARY);
  if (!hasQemu(binary) && !binary.includes("/")) requireQemu(binary);
  await startWatchdog();
  const dir = mkdtempSync(join(inTree ? QEMU10_SHARED_DIR : tmpdir(), "qmpkit-qemu-"));
  const path = join(dir, "qmp.sock");
  const argv = [
    binary,
    ...(options.args ?? DEFAULT_QEMU_ARGS),
    ...(options.extraArgs ?? []),
    "-qmp",
    `unix:${path},server=on,wait=off`,
  ];
  let proc: Subprocess<"ignore", "ignore", "pipe">;
  try {
    proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new SpawnQemuError(`Cannot start ${binary}`, { cause: error });
  }
  const entry = { proc, dir };
  live.add(entry);
  installExitHook();
  tellWatchdog(`add ${proc.pid} ${dir}`);

  let stderrText = "";
  const stderrDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) {
      if (stderrText.length < STDERR_LIMIT) stderrText += decoder.decode(chunk, { stream: true });
    }
  })().catch(() => {});
  let exitCode: number | undefined;
  const exited = proc.exited.then((code) => {
    exitCode = code;
    return code;
  });

  const cleanup = async (): Promise<number> => {
    if (exitCode === undefined) {
      try {
        proc.kill("SIGKILL");
      } catch {}
    }
    const code = await exited;
    await stderrDone;
    live.delete(entry);
    rmSync(dir, { recursive: true, force: true });
    tellWatchdog(`del ${proc.pid}`);
    return code;
  };

  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (exitCode !== undefined) {
      await cleanup();
      throw new SpawnQemuError(`${binary} exited with code ${exitCode} before its QMP socket accepted`, {
        stderr: stderrText,
        exitCode,
      });
    }
    if (existsSync(path) && (await canConnect(path))) break;
    if (performance.now() > deadline) {
      await cleanup();
      throw new SpawnQemuError(`${binary}'s QMP socket did not accept within ${timeoutMs} ms`, {
        stderr: stderrText,
      });
    }
    await Promise.race([Bun.sleep(10), exited]);
  }

  let disposed: Promise<number> | undefined;
  const kill = async (signal: NodeJS.Signals | number = "SIGKILL"): Promise<number> => {
    if (exitCode === undefined) {
      try {
        proc.kill(signal);
      } catch {}
    }
    return exited;
  };
  return {
    address: `unix:${path}`,
    path,
    pid: proc.pid,
    exited,
    kill,
    signal: (signal) => {
      if (exitCode === undefined) proc.kill(signal);
    },
    stderr: () => stderrText,
    [Symbol.asyncDispose]: async () => {
      disposed ??= (async () => {
        // A polite SIGTERM first (QEMU then removes its socket and exits), SIGKILL if it lingers.
        if (exitCode === undefined) {
          try {
            proc.kill("SIGTERM");
          } catch {}
          // A cleared timer, not Bun.sleep: a pending sleep would keep the caller's process alive for the
          // full 2 s after QEMU had already gone.
          await settlesWithin(exited, 2000);
        }
        return cleanup();
      })();
      await disposed;
    },
  };
}
