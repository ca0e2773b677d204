import type { Socket } from "bun";

/** Options of {@link SocketWriter}. */
export interface SocketWriterOptions {
  /** Called once the byte limit ({@link SocketWriter.limitBytes}) is reached; the writer has dropped its queue. */
  onLimit?: () => void;
}

/**
 * The outgoing side of one socket. Bun's `socket.write` is unbuffered: it takes what the kernel accepts and keeps
 * nothing, so whatever it refuses waits here until `drain`.
 *
 *   pending (this tick, coalesced) ──► socket.write ──► kernel
 *                                          │ refused part
 *                                          ▼
 *                                   queue (oldest first) ──► retried on drain
 *
 * Writes made in one tick are joined into a single `socket.write`, which matters for pipelined commands.
 *
 * Two modes exist for servers that misbehave on purpose (the testkit's faults): `splitBytes()` writes every
 * later byte on its own, one per event-loop turn, so the peer really reads one-byte chunks; `limitBytes(n)`
 * cuts the connection once `n` bytes were written in total. Neither costs the ordinary path more than a check.
 */
export class SocketWriter {
  readonly #socket: Socket<unknown>;
  readonly #onLimit: (() => void) | undefined;
  #pending: (string | Uint8Array)[] = [];
  #pendingBytes = 0;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #scheduled = false;
  #closed = false;
  #flushWaiters: (() => void)[] = [];
  #written = 0;
  #limit = Number.POSITIVE_INFINITY;
  #split = false;
  #splitPumping = false;

  constructor(socket: Socket<unknown>, options: SocketWriterOptions = {}) {
    this.#socket = socket;
    this.#onLimit = options.onLimit;
  }

  /** Bytes accepted by {@link write} that the kernel has not taken yet (approximate for strings). */
  get bufferedBytes(): number {
    return this.#pendingBytes + this.#queuedBytes;
  }

  /** Bytes the kernel took so far. */
  get writtenBytes(): number {
    return this.#written;
  }

  /** Whether the writer was dropped (closed socket, byte limit, or {@link drop}). */
  get closed(): boolean {
    return this.#closed;
  }

  write(data: string | Uint8Array): void {
    if (this.#closed || data.length === 0) return;
    this.#pending.push(data);
    this.#pendingBytes += data.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#writePending);
    }
  }

  /** From now on (or, with `false`, no longer), writes every byte on its own, one per event-loop turn. */
  splitBytes(on = true): void {
    this.#split = on;
    if (!on && !this.#splitPumping) this.onDrain();
  }

  /** Cuts the connection (drops the queue and calls `onLimit`) once `total` bytes were written in all. */
  limitBytes(total: number): void {
    this.#limit = total;
    if (this.#written >= total) this.#hitLimit();
  }

  /** Called from the socket's `drain` handler. */
  onDrain(): void {
    if (this.#split) return;
    while (this.#queue.length > 0 && !this.#closed) {
      const head = this.#queue[0] as Uint8Array;
      const written = this.#writeSome(head);
      if (written < 0) return;
      if (written < head.length) {
        this.#queue[0] = head.subarray(written);
        return;
      }
      this.#queue.shift();
    }
    this.#notifyIfEmpty();
  }

  /** True when everything written so far was handed to the kernel, or the writer was dropped: {@link flushed} is. */
  get isFlushed(): boolean {
    return this.#closed || (this.bufferedBytes === 0 && !this.#splitPumping);
  }

  /** Resolves once everything written so far was handed to the kernel, or the writer was dropped. */
  flushed(): Promise<void> {
    if (this.isFlushed) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  /** Discards everything not yet written; later writes are ignored. */
  drop(): void {
    this.#markClosed();
  }

  #writePending = (): void => {
    this.#scheduled = false;
    if (this.#closed || this.#pending.length === 0) return;
    const parts = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    const data = joinParts(parts);
    if (this.#queue.length > 0 || this.#split) {
      this.#enqueue(data);
      if (this.#split) this.#pumpSplit();
      return;
    }
    const written = this.#writeSome(data);
    if (written < 0) return;
    if (written < data.length) this.#enqueue(data.subarray(written));
    else this.#notifyIfEmpty();
  };

  /**
   * Writes what the kernel takes of `data`, within the byte limit; returns the count, or -1 once the writer is
   * closed (by a closed socket or the limit). Counts the bytes off the queue.
   */
  #writeSome(data: Uint8Array): number {
    const room = this.#limit - this.#written;
    const chunk = room < data.length ? data.subarray(0, room) : data;
    const written = chunk.length > 0 ? this.#socket.write(chunk) : 0;
    if (written < 0) {
      this.#markClosed();
      return -1;
    }
    this.#written += written;
    if (this.#queue[0] === data) this.#queuedBytes -= written;
    if (this.#written >= this.#limit) {
      this.#hitLimit();
      return -1;
    }
    return written;
  }

  #pumpSplit(): void {
    if (this.#splitPumping) return;
    this.#splitPumping = true;
    const step = (): void => {
      const head = this.#queue[0];
      if (this.#closed || head === undefined || !this.#split) {
        this.#splitPumping = false;
        if (!this.#closed && head !== undefined) this.onDrain();
        else this.#notifyIfEmpty();
        return;
      }
      const written = this.#writeSome(head.subarray(0, 1));
      if (written < 0) {
        this.#splitPumping = false;
        return;
      }
      if (written === 1) {
        this.#queuedBytes -= 1;
        if (head.length === 1) this.#queue.shift();
        else this.#queue[0] = head.subarray(1);
        // A macrotask between bytes: otherwise the kernel would coalesce them and the peer would read one chunk.
        setImmediate(step);
      } else setTimeout(step, 1);
    };
    // Even the first byte waits a turn: written now, it would share the peer's next read with the second.
    setImmediate(step);
  }

  #hitLimit(): void {
    if (this.#closed) return;
    this.#markClosed();
    this.#onLimit?.();
  }

  #enqueue(data: Uint8Array): void {
    this.#queue.push(data);
    this.#queuedBytes += data.length;
  }

  #markClosed(): void {
    this.#closed = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#notifyIfEmpty();
  }

  #notifyIfEmpty(): void {
    if (!this.#closed && (this.bufferedBytes !== 0 || this.#splitPumping)) return;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * UTF-8 through a TextEncoder rather than `Buffer.from`: the same bytes, but `Buffer.from`'s first call costs a
 * compiled binary ~0.1 ms of builtin set-up, paid by the first message of every one-shot CLI run.
 */
const utf8 = new TextEncoder();

function joinParts(parts: (string | Uint8Array)[]): Uint8Array {
  if (parts.length === 1) {
    const only = parts[0] as string | Uint8Array;
    return typeof only === "string" ? utf8.encode(only) : only;
  }
  if (parts.every((p) => typeof p === "string")) return utf8.encode(parts.join(""));
  return Buffer.concat(parts.map((p) => (typeof p === "string" ? utf8.encode(p) : p)));
}
