// A small real-QEMU launcher for this package's tests (testkit's spawnQemu is written concurrently).

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const qemuBinary = Bun.which("qemu-system-x86_64");
export const ci = process.env.CI === "true";
/** Real-QEMU tests run when QEMU exists, and also under CI=true, where a missing QEMU must fail. */
export const skipWithoutQemu = qemuBinary === null && !ci;

/**
 * Per-test bound for tests that start QEMU or child processes. Passed explicitly: bun 1.4.4 does not apply the
 * root bunfig's `[test] timeout`, so the default of 5 s would otherwise hold on a loaded CI machine.
 */
export const QEMU_TEST_TIMEOUT_MS = 20_000;

/** Throws a clear error when QEMU is missing (reached only under CI=true). */
export function requireQemu(): string {
  if (qemuBinary === null)
    throw new Error("CI=true but qemu-system-x86_64 is not installed: real-QEMU tests cannot run");
  return qemuBinary;
}

export interface QemuHandle {
  readonly proc: Subprocess<"ignore", "ignore", "pipe">;
  readonly dir: string;
  /** The QMP socket path (QEMU listening, or where QEMU connects in client mode). */
  readonly socketPath: string;
  /** Resolves once QEMU created its listening socket (server mode only). */
  ready(): Promise<void>;
  /**
   * SIGSTOPs QEMU and resolves once the kernel reports it stopped: a signal is delivered asynchronously, and a QEMU
   * still running for a moment could greet or answer what the test assumes it cannot.
   */
  freeze(): Promise<void>;
  /** Kills QEMU (if alive), waits for it, removes the temp dir. Idempotent. */
  [Symbol.asyncDispose](): Promise<void>;
  stop(): Promise<void>;
}

/** The common minimal machine: no devices, no display, QMP on a unix socket. */
export function spawnQemu(
  options: {
    mode?: "server" | "client";
    socketPath?: string;
    extraArgs?: string[];
    startDelayMs?: number;
  } = {},
): QemuHandle {
  const binary = requireQemu();
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-qmp-"));
  const socketPath = options.socketPath ?? join(dir, "qmp.sock");
  const qmp = options.mode === "client" ? `unix:${socketPath}` : `unix:${socketPath},server=on,wait=off`;
  const proc = Bun.spawn(
    [
      binary,
      "-machine",
      "none",
      "-nodefaults",
      "-display",
      "none",
      "-qmp",
      qmp,
      ...(options.extraArgs ?? []),
    ],
    { stdin: "ignore", stdout: "ignore", stderr: "pipe" },
  );
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  return {
    proc,
    dir,
    socketPath,
    async ready() {
      // server=on,wait=off: QEMU binds, then listens. The file appears at bind, so wait until the kernel lists
      // the socket as listening (a peer connecting in between would be refused), bounded.
      const deadline = Date.now() + 10_000;
      while (!(await isListening(socketPath))) {
        if (proc.exitCode !== null)
          throw new Error(`QEMU exited early: ${await new Response(proc.stderr).text()}`);
        if (Date.now() > deadline) throw new Error("QEMU did not create its QMP socket within 10 s");
        await Bun.sleep(10);
      }
    },
    async freeze() {
      proc.kill("SIGSTOP");
      const deadline = Date.now() + 10_000;
      // /proc/PID/stat: "pid (comm) STATE ..."; T means stopped by a signal.
      while (!/\) T /.test(await Bun.file(`/proc/${proc.pid}/stat`).text())) {
        if (Date.now() > deadline) throw new Error("QEMU did not stop within 10 s of SIGSTOP");
        await Bun.sleep(1);
      }
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Whether a unix socket at `path` is listening: /proc/net/unix lists it with the __SO_ACCEPTCON flag. */
async function isListening(path: string): Promise<boolean> {
  if (!existsSync(path)) return false;
  let table: string;
  try {
    table = await Bun.file("/proc/net/unix").text();
  } catch {
    return true; // no procfs: the file's existence is the best available sign
  }
  return table.split("\n").some((line) => line.endsWith(` ${path}`) && line.split(/\s+/)[3] === "00010000");
}
