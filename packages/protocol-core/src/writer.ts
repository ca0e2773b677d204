import type { Socket } from "bun";

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
 */
export class SocketWriter {
  readonly #socket: Socket<unknown>;
  #pending: (string | Uint8Array)[] = [];
  #pendingBytes = 0;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #scheduled = false;
  #closed = false;
  #flushWaiters: (() => void)[] = [];

  constructor(socket: Socket<unknown>) {
    this.#socket = socket;
  }

  /** Bytes accepted by {@link write} that the kernel has not taken yet (approximate for strings). */
  get bufferedBytes(): number {
    return this.#pendingBytes + this.#queuedBytes;
  }

  write(data: string | Uint8Array): void {
    if (this.#closed) return;
    this.#pending.push(data);
    this.#pendingBytes += data.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#writePending);
    }
  }

  /** Called from the socket's `drain` handler. */
  onDrain(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const head = this.#queue[0] as Uint8Array;
      const written = this.#socket.write(head);
      if (written < 0) {
        this.#markClosed();
        return;
      }
      this.#queuedBytes -= Math.max(written, 0);
      if (written < head.length) {
        this.#queue[0] = head.subarray(written);
        return;
      }
      this.#queue.shift();
    }
    this.#notifyIfEmpty();
  }

  /** Resolves once everything written so far was handed to the kernel, or the writer was dropped. */
  flushed(): Promise<void> {
    if (this.bufferedBytes === 0 || this.#closed) return Promise.resolve();
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
    if (this.#queue.length > 0) {
      this.#enqueue(data);
      return;
    }
    const written = this.#socket.write(data);
    if (written < 0) {
      this.#markClosed();
      return;
    }
    if (written < data.length) this.#enqueue(data.subarray(written));
    else this.#notifyIfEmpty();
  };

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
    if (this.bufferedBytes !== 0 && !this.#closed) return;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function joinParts(parts: (string | Uint8Array)[]): Uint8Array {
  if (parts.length === 1) {
    const only = parts[0] as string | Uint8Array;
    return typeof only === "string" ? Buffer.from(only) : only;
  }
  if (parts.every((p) => typeof p === "string")) return Buffer.from(parts.join(""));
  return Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p)));
}
