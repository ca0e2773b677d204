import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settlesWithin } from "@qmpkit/protocol-core";
import type { Subprocess } from "bun";
import { QemuGaSpawnError } from "./errors.ts";
import { SerialRelay } from "./serial-relay.ts";

/** Where the Debian/Ubuntu package `qemu-guest-agent` installs the agent. */
export const DEFAULT_QEMU_GA_BINARY = "/usr/sbin/qemu-ga";

/** Whether a qemu-ga executable exists at `binary`. */
export function hasQemuGa(binary: string = DEFAULT_QEMU_GA_BINARY): boolean {
  return existsSync(binary);
}

/**
 * Whether real-agent tests should be skipped: only when qemu-ga is missing and `CI` is not `"true"`. In CI a
 * missing agent must fail, so those tests run and {@link requireQemuGa} fails them.
 *
 * @example
 * test.skipIf(skipWithoutQemuGa())("talks to qemu-ga", async () => { requireQemuGa(); … });
 */
export function skipWithoutQemuGa(binary: string = DEFAULT_QEMU_GA_BINARY): boolean {
  return !hasQemuGa(binary) && process.env.CI !== "true";
}

/** Throws a clear {@link QemuGaSpawnError} when qemu-ga is not installed (use at the top of a real-agent test). */
export function requireQemuGa(binary: string = DEFAULT_QEMU_GA_BINARY): void {
  if (hasQemuGa(binary)) return;
  const hint = ` (Debian package qemu-guest-agent${process.env.CI === "true" ? "; CI=true requires it" : ""})`;
  throw new QemuGaSpawnError(`${binary} is not installed${hint}`, "", undefined);
}

/** Options of {@link spawnQemuGa}. */
export interface SpawnQemuGaOptions {
  /** The qemu-ga executable. @default "/usr/sbin/qemu-ga" */
  binary?: string;
  /**
   * `unix-listen`: qemu-ga's own socket (`-m unix-listen`); each client gets a fresh stream.
   * `serial`: qemu-ga on a pseudo-terminal (`-m isa-serial`) behind a unix socket that behaves like QEMU's
   * virtio-serial chardev: one persistent stream, so a client can receive replies meant for the one before it.
   * @default "unix-listen"
   */
  channel?: "unix-listen" | "serial";
  /** Extra qemu-ga arguments, e.g. `["--blacklist", "guest-exec"]`. @default [] */
  args?: readonly string[];
  /** How long the agent may take to become reachable. @default 10000 */
  startTimeoutMs?: number;
}

/** A running qemu-ga started by {@link spawnQemuGa}. */
export interface QemuGaProcess extends AsyncDisposable {
  /** The unix socket to connect a `QGAClient` to. */
  readonly address: string;
  /** The qemu-ga process id. */
  readonly pid: number;
  /** The agent's state directory (`-t`), inside the launcher's temp dir. */
  readonly stateDir: string;
  readonly channel: "unix-listen" | "serial";
  /** What qemu-ga printed so far (stderr; in serial mode its log file). */
  output(): string;
  /** Stops the agent (SIGTERM, SIGKILL after 1 s) and removes the temp dir. Idempotent. */
  kill(): Promise<void>;
}

// qemu-ga's SIGTERM handler calls g_main_loop_quit(), which takes a GLib lock and so is not async-signal-safe:
// a SIGTERM that lands while the agent's main loop holds that lock deadlocks it (measured: 3 of 300 kills of a
// busy agent hung in futex_wait). Hence SIGKILL after a short grace.
const KILL_GRACE_MS = 1_000;
const live = new Set<{ proc: Subprocess; dir: string }>();
let exitHookInstalled = false;

// A test run that dies mid-test must not leave agents running or temp dirs behind.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const { proc, dir } of live) {
      proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/**
 * Starts a real qemu-ga on this host in a fresh temp dir and waits until it answers. The agent runs as the
 * current user, so what it can do (exec, files, fsfreeze) is what this user can do on the host.
 *
 * @example
 * await using agent = await spawnQemuGa();
 * await using qga = new QGAClient();
 * await qga.connect(agent.address);
 * console.log((await qga.info()).version);
 */
export async function spawnQemuGa(options: SpawnQemuGaOptions = {}): Promise<QemuGaProcess> {
  const binary = options.binary ?? DEFAULT_QEMU_GA_BINARY;
  const channel = options.channel ?? "unix-listen";
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  requireQemuGa(binary);
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-qemu-ga-"));
  const stateDir = join(dir, "state");
  mkdirSync(stateDir, { mode: 0o700 });
  const address = join(dir, "qga.sock");
  const pidFile = join(dir, "qemu-ga.pid");
  const common = ["-t", stateDir, "-f", pidFile, ...(options.args ?? [])];

  let started: Started;
  try {
    started =
      channel === "serial"
        ? startSerial(binary, [...common, "-l", join(dir, "qemu-ga.log")], address, join(dir, "qemu-ga.log"))
        : startUnixListen(binary, [...common], address);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new QemuGaSpawnError(`Failed to start ${binary}`, "", undefined, error);
  }
  const entry = { proc: started.proc, dir };
  live.add(entry);
  installExitHook();

  let killing: Promise<void> | undefined;
  const kill = (): Promise<void> => {
    killing ??= (async () => {
      const { proc } = started;
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      if (!(await settlesWithin(proc.exited, KILL_GRACE_MS))) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
      started.close();
      live.delete(entry);
      rmSync(dir, { recursive: true, force: true });
    })();
    return killing;
  };

  try {
    await started.ready(startTimeoutMs);
  } catch (error) {
    const exitCode = started.proc.exitCode ?? undefined;
    await kill();
    const message = error instanceof Error ? error.message : String(error);
    throw new QemuGaSpawnError(message, started.output(), exitCode);
  }
  return {
    address,
    pid: started.proc.pid,
    stateDir,
    channel,
    output: started.output,
    kill,
    [Symbol.asyncDispose]: kill,
  };
}

interface Started {
  readonly proc: Subprocess;
  /** Resolves once a client can talk to the agent; rejects with a reason when it exits or is too slow. */
  ready(timeoutMs: number): Promise<void>;
  output(): string;
  close(): void;
}

function startUnixListen(binary: string, args: string[], socketPath: string): Started {
  const proc = Bun.spawn([binary, "-m", "unix-listen", "-p", socketPath, ...args], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const stderr: string[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) stderr.push(decoder.decode(chunk, { stream: true }));
  })().catch(() => {});
  return {
    proc,
    // The socket file appears at bind(), a moment before listen(): a client that connects in between is refused.
    // So wait until the kernel lists the path as a listening socket. Before qemu-ga's main loop runs, a client
    // that connects waits in the backlog, which is fine.
    ready: (timeoutMs) => pollUntil(() => isListening(socketPath), proc, timeoutMs, `socket ${socketPath}`),
    output: () => stderr.join(""),
    close: () => {},
  };
}

function startSerial(binary: string, args: string[], relayPath: string, logPath: string): Started {
  const early: string[] = [];
  let probing = true;
  let latestProbe = 0;
  let seen = "";
  const relay = new SerialRelay((bytes) => terminal.write(bytes));
  const terminal = new Bun.Terminal({
    data: (_terminal, bytes) => {
      if (!probing) {
        relay.fromAgent(bytes);
        return;
      }
      const text = Buffer.from(bytes).toString("latin1");
      early.push(text);
      seen += text;
    },
  });
  // The pseudo-terminal is the agent's serial port and its stdio at once; its log goes to a file instead.
  // /proc/self/fd/0, opened by qemu-ga, is that terminal's device.
  const proc = Bun.spawn([binary, "-m", "isa-serial", "-p", "/proc/self/fd/0", ...args], { terminal });
  const probe = (): void => {
    latestProbe++;
    terminal.write(
      Buffer.concat([
        Buffer.from([0xff]),
        Buffer.from(`{"execute":"guest-sync-delimited","arguments":{"id":${latestProbe}}}\n`),
      ]),
    );
  };
  // The agent flushes its serial input when it opens the port, so probe until it echoes the newest probe's id:
  // it answers in order, so nothing of the probing is still pending after that reply.
  const answered = (): boolean => seen.includes(`\xff{"return": ${latestProbe}}`);
  return {
    proc,
    async ready(timeoutMs) {
      probe();
      let lastProbe = performance.now();
      await pollUntil(
        () => {
          if (answered()) return true;
          if (performance.now() - lastProbe >= 100) {
            probe();
            lastProbe = performance.now();
          }
          return false;
        },
        proc,
        timeoutMs,
        "an answer on the serial channel",
      );
      probing = false;
      seen = "";
      relay.discardHeld();
      relay.listen(relayPath);
    },
    output: () => {
      const log = existsSync(logPath) ? readFileSync(logPath, "utf8") : "";
      return `${log}${early.join("").replace(/[^\x20-\x7e\r\n]/g, "")}`;
    },
    close: () => {
      relay.close();
      terminal.close();
    },
  };
}

const SO_ACCEPTCON = 0x10000;

/** Whether a unix socket is listening at `path`, from /proc/net/unix (Linux); elsewhere, whether the file exists. */
function isListening(path: string): boolean {
  let table: string;
  try {
    table = readFileSync("/proc/net/unix", "utf8");
  } catch {
    return existsSync(path);
  }
  // Columns: Num RefCount Protocol Flags Type St Inode Path; a listening socket has __SO_ACCEPTCON in Flags.
  return table.split("\n").some((line) => {
    const match = /^\S+:\s+\S+\s+\S+\s+([0-9A-Fa-f]+)\s+\S+\s+\S+\s+\S+\s(.*)$/.exec(line.trim());
    return match?.[2] === path && (Number.parseInt(match[1] as string, 16) & SO_ACCEPTCON) !== 0;
  });
}

/** Checks `done` every 10 ms until it holds, the process exits, or `timeoutMs` passes. */
async function pollUntil(
  done: () => boolean,
  proc: Subprocess,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`qemu-ga exited (${proc.exitCode ?? proc.signalCode}) before ${what} was ready`);
    }
    if (performance.now() > deadline) throw new Error(`qemu-ga: no ${what} within ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}
