import { Deadline } from "@qmpkit/protocol-core";
import type { QGAMessage } from "./wire.ts";

/** Per-call options of every guest-agent command. */
export interface QGACommandOptions {
  /** Cancels the call; it then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * Bounds the whole call: waiting in the queue, any resynchronisation in front of it, and the reply.
   * `Infinity` waits forever. @default the client's `commandTimeoutMs` (30 s)
   */
  timeoutMs?: number;
}

/**
 * One unit of work on the channel: a command, or a resynchronisation. The agent answers strictly in order and
 * without ids, so at most one job is on the wire at a time; the rest wait in a FIFO:
 *
 *   | settled (dropped lazily) | queued … | ──► active (sent, awaiting its reply) ──► settled
 */
export interface Job {
  readonly kind: "command" | "sync";
  readonly command: string;
  readonly args: Readonly<Record<string, unknown>> | undefined;
  /** Sent without waiting for a reply (guest-shutdown, guest-suspend-*). */
  readonly noReply: boolean;
  /** For a resync the client inserted in front of a command: that command, which fails if the resync does. */
  readonly owner: Job | undefined;
  readonly timeoutMs: number;
  readonly promise: Promise<QGAMessage | undefined>;
  /** The id of the guest-sync-delimited that was sent (sync jobs only, once transmitted). */
  syncId: number | undefined;
  transmitted: boolean;
  settled: boolean;
  /** Settles the job once: clears its timer and abort listener, then resolves or rejects. */
  settle(error: unknown, reply?: QGAMessage): void;
}

/** Creates a job whose timer and abort listener call `expire` (at most once, and never after it settled). */
export function createJob(
  init: Pick<Job, "kind" | "command" | "args" | "noReply" | "owner" | "timeoutMs"> & {
    signal: AbortSignal | undefined;
    expire: (job: Job, reason: unknown) => void;
  },
): Job {
  let deadline: Deadline | undefined;
  const deferred = Promise.withResolvers<QGAMessage | undefined>();
  const { signal, expire } = init;
  const job: Job = {
    kind: init.kind,
    command: init.command,
    args: init.args,
    noReply: init.noReply,
    owner: init.owner,
    timeoutMs: init.timeoutMs,
    promise: deferred.promise,
    syncId: undefined,
    transmitted: false,
    settled: false,
    settle(error, reply) {
      if (job.settled) return;
      job.settled = true;
      deadline?.clear();
      if (error === undefined) deferred.resolve(reply);
      else deferred.reject(error);
    },
  };
  if (signal?.aborted) {
    job.settled = true;
    deferred.reject(signal.reason);
    return job;
  }
  // On a timeout `expire` gets no reason: it words the error itself, which depends on how far the job got.
  const armed = new Deadline({ timeoutMs: init.timeoutMs, signal });
  armed.signal.addEventListener(
    "abort",
    () => expire(job, armed.timedOut ? undefined : armed.signal.reason),
    {
      once: true,
    },
  );
  deadline = armed;
  return job;
}
