/**
 * Shared pieces of the reliability suite (issue 9): bounded waits, fast-check settings with replayable seeds, a
 * raw hostile QMP server on a unix socket, and a runner for child-process fixtures.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, UnixSocketListener } from "bun";
import type { Parameters as FcParameters } from "fast-check";
import { JsonSplitter } from "./helpers/json-splitter.ts";

/** Rejects if `promise` does not settle within `ms`: a bound on a wait, never a synchronisation. */
export function within<T>(promise: Promise<T>, ms: number, what = "operation"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]);
}

/** How a promise settled. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Waits (bounded) for `promise` and reports how it settled instead of throwing. */
export function settle<T>(promise: Promise<T>, ms: number, what = "operation"): Promise<Outcome<T>> {
  return within(
    promise.then(
      (value): Outcome<T> => ({ ok: true, value }),
      (error: unknown): Outcome<T> => ({ ok: false, error }),
    ),
    ms,
    what,
  );
}

/** The rejection of `promise` (bounded); throws if it resolved. */
export async function rejection(promise: Promise<unknown>, ms = 5000, what = "operation"): Promise<unknown> {
  const outcome = await settle(promise, ms, what);
  if (outcome.ok) throw new Error(`${what} resolved with ${String(outcome.value)}; expected a rejection`);
  return outcome.error;
}

// ---- fast-check ----------------------------------------------------------------------------------------------

/**
 * fast-check settings for the reliability properties.
 *
 * - `QMPKIT_PROPERTY_RUNS`: runs per property (default `localRuns`, or `ciRuns` under `CI=true`).
 * - `QMPKIT_PROPERTY_SEED` / `QMPKIT_PROPERTY_PATH`: replay a failure (both are printed when a property fails).
 * - `QMPKIT_PROPERTY_SHRINK=1`: shrink a failure to a minimal case (off by default: each shrink step is a real
 *   socket session, and a shrink that outlives the test's timeout would swallow the seed).
 *
 * A property that runs out of `budgetMs` fails with its seed rather than being killed by the runner's timeout.
 */
export function propertySettings(localRuns: number, ciRuns: number, budgetMs: number): FcParameters<unknown> {
  const env = process.env;
  const runs = Number(env.QMPKIT_PROPERTY_RUNS ?? (env.CI === "true" ? ciRuns : localRuns));
  const settings: FcParameters<unknown> = {
    numRuns: Number.isSafeInteger(runs) && runs > 0 ? runs : localRuns,
    endOnFailure: env.QMPKIT_PROPERTY_SHRINK !== "1",
    interruptAfterTimeLimit: budgetMs,
    markInterruptAsFailure: true,
    verbose: 1,
  };
  if (env.QMPKIT_PROPERTY_SEED !== undefined) settings.seed = Number(env.QMPKIT_PROPERTY_SEED);
  if (env.QMPKIT_PROPERTY_PATH !== undefined) settings.path = env.QMPKIT_PROPERTY_PATH;
  return settings;
}

/** The runner's per-test timeout for a property given `budgetMs`: the budget plus room to report and clean up. */
export function propertyTimeout(budgetMs: number): number {
  return budgetMs + 30_000;
}

// ---- a hostile QMP server ------------------------------------------------------------------------------------

/** A QMP greeting line as QEMU 7.2 sends it. */
export const GREETING_LINE =
  '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "hostile"}, "capabilities": ["oob"]}}\r\n';

/** The server side of one connection. */
export interface HostilePeer {
  readonly socket: Socket<undefined>;
  /** Writes bytes in order, keeping what the kernel refused until `drain`. */
  write(data: string | Uint8Array): void;
  /** Answers `command` with `body` (raw JSON text of the whole reply minus the id), echoing its id. */
  replyRaw(command: Record<string, unknown>, bodyJson: string): void;
  /** Resolves once everything written reached the kernel (or the socket closed). */
  flushed(): Promise<void>;
  /** Bytes written so far (taken by the kernel). */
  readonly written: number;
  readonly closed: boolean;
  close(): void;
  reset(): void;
}

/** What a {@link hostileServer} does. */
export interface HostileScript {
  /** Sent first; null sends nothing. @default {@link GREETING_LINE} */
  greeting?: string | Uint8Array | null;
  /** Called once the connection is open (after the greeting was queued). */
  onOpen?: (peer: HostilePeer) => void;
  /** Answer `qmp_capabilities` with success before `onCommand` sees anything. @default true */
  autoNegotiate?: boolean;
  /** Every command (after `qmp_capabilities`, unless `autoNegotiate` is false). */
  onCommand?: (message: Record<string, unknown>, peer: HostilePeer) => void;
}

/** A raw QMP server for inputs no well-behaved server (nor the fake) would send. */
export interface HostileServer extends AsyncDisposable {
  readonly path: string;
  readonly peers: HostilePeer[];
  stop(): Promise<void>;
}

/** Starts a {@link HostileServer} on a unix socket in a fresh 0700 temp dir. */
export function hostileServer(script: HostileScript = {}): HostileServer {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-hostile-"));
  const path = join(dir, "qmp.sock");
  const peers: HostilePeer[] = [];
  const state = new Map<Socket<undefined>, PeerState>();

  const server: UnixSocketListener<undefined> = Bun.listen({
    unix: path,
    socket: {
      open(socket) {
        const s: PeerState = {
          queue: [],
          waiters: [],
          splitter: new JsonSplitter(),
          written: 0,
          closed: false,
        };
        state.set(socket, s);
        const peer = makePeer(socket, s);
        peers.push(peer);
        const greeting = script.greeting === undefined ? GREETING_LINE : script.greeting;
        if (greeting !== null) peer.write(greeting);
        script.onOpen?.(peer);
      },
      data(socket, chunk) {
        const s = state.get(socket);
        if (s === undefined) return;
        const lines = s.splitter.push(chunk.toString("latin1"));
        const peer = peers.find((p) => p.socket === socket);
        for (const line of lines) {
          if (line.trim() === "" || peer === undefined) continue;
          const message = JSON.parse(line) as Record<string, unknown>;
          if (message.execute === "qmp_capabilities" && script.autoNegotiate !== false)
            peer.replyRaw(message, '"return": {}');
          else script.onCommand?.(message, peer);
        }
      },
      drain(socket) {
        const s = state.get(socket);
        if (s !== undefined) pump(socket, s);
      },
      close(socket) {
        const s = state.get(socket);
        if (s !== undefined) markClosed(s);
      },
      error(socket) {
        const s = state.get(socket);
        if (s !== undefined) markClosed(s);
      },
    },
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      for (const peer of peers) peer.socket.terminate();
      server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  return { path, peers, stop, [Symbol.asyncDispose]: stop };
}

interface PeerState {
  queue: Uint8Array[];
  waiters: (() => void)[];
  splitter: JsonSplitter;
  written: number;
  closed: boolean;
}

function makePeer(socket: Socket<undefined>, s: PeerState): HostilePeer {
  return {
    socket,
    write(data) {
      if (s.closed) return;
      s.queue.push(typeof data === "string" ? Buffer.from(data) : data);
      if (s.queue.length === 1) pump(socket, s);
    },
    replyRaw(command, bodyJson) {
      const id = command.id === undefined ? "" : `, "id": ${JSON.stringify(command.id)}`;
      this.write(`{${bodyJson}${id}}\r\n`);
    },
    flushed() {
      if (s.queue.length === 0 || s.closed) return Promise.resolve();
      return new Promise((resolve) => s.waiters.push(resolve));
    },
    get written() {
      return s.written;
    },
    get closed() {
      return s.closed;
    },
    close() {
      void this.flushed().then(() => socket.end());
    },
    reset() {
      markClosed(s);
      socket.terminate();
    },
  };
}

function pump(socket: Socket<undefined>, s: PeerState): void {
  while (s.queue.length > 0 && !s.closed) {
    const head = s.queue[0] as Uint8Array;
    const n = socket.write(head);
    if (n < 0) {
      markClosed(s);
      return;
    }
    s.written += n;
    if (n < head.length) {
      s.queue[0] = head.subarray(n);
      return;
    }
    s.queue.shift();
  }
  for (const resolve of s.waiters.splice(0)) resolve();
}

function markClosed(s: PeerState): void {
  s.closed = true;
  s.queue = [];
  for (const resolve of s.waiters.splice(0)) resolve();
}

// ---- processes and resources ---------------------------------------------------------------------------------

/** Open file descriptors of this process. */
export function openFdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** What a fixture child process did. */
export interface FixtureResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The last stdout line, parsed as JSON (fixtures report there). */
  report: Record<string, unknown> | undefined;
}

/**
 * Runs `bun <fixture> ...args` and waits (bounded) for it to exit by itself: a fixture that leaves a timer, a
 * socket or a listener behind keeps its event loop alive and fails the bound instead of exiting.
 */
export async function runFixture(fixture: string, args: string[], ms: number): Promise<FixtureResult> {
  await using proc = Bun.spawn([process.execPath, fixture, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, QMPKIT_DEBUG: "" },
  });
  const stdout = new Response(proc.stdout).text();
  const stderr = new Response(proc.stderr).text();
  const exitCode = await within(proc.exited, ms, `fixture ${fixture}`);
  const out = await stdout;
  const last = out.trim().split("\n").at(-1);
  let report: Record<string, unknown> | undefined;
  try {
    report = last ? (JSON.parse(last) as Record<string, unknown>) : undefined;
  } catch {
    report = undefined;
  }
  return { exitCode, stdout: out, stderr: await stderr, report };
}
