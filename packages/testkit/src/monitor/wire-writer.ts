import type { Socket } from "bun";

/**
 * The outgoing side of one fake-server connection. Bun's `socket.write` takes only what the kernel accepts and
 * keeps nothing, so the rest waits here until `drain`, in order. Writes made in one tick are joined into one
 * `socket.write` (a burst of events costs one syscall, not one each).
 *
 * Two fault modes live here because they concern bytes, not messages: `split` writes every byte separately,
 * one per event-loop turn, so the peer really sees one-byte chunks; `limit` cuts the connection after a total
 * number of bytes.
 */
export class WireWriter {
  readonly #socket: Socket<unknown>;
  readonly #onLimit: () => void;
  #pending: (string | Uint8Array)[] = [];
  #scheduled = false;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #closed = false;
  #split = false;
  #splitPumping = false;
  #limit = Number.POSITIVE_INFINITY;
  #written = 0;
  #waiters: (() => void)[] = [];

  constructor(socket: Socket<unknown>, onLimit: () => void) {
    this.#socket = socket;
    this.#onLimit = onLimit;
  }

  /** Bytes accepted but not yet taken by the kernel. */
  get bufferedBytes(): number {
    let pending = 0;
    for (const part of this.#pending) pending += part.length;
    return pending + this.#queuedBytes;
  }

  /** Total bytes handed to the kernel so far. */
  get writtenBytes(): number {
    return this.#written;
  }

  get closed(): boolean {
    return this.#closed;
  }

  write(data: string | Uint8Array): void {
    if (this.#closed || data.length === 0) return;
    this.#pending.push(data);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flushPending);
    }
  }

  /** Splits every later byte into its own write. */
  splitWrites(): void {
    this.#split = true;
  }

  /** Cuts the connection once `total` bytes were written. */
  limitBytes(total: number): void {
    this.#limit = total;
    if (this.#written >= total) this.#hitLimit();
  }

  /** Socket `drain` handler. */
  onDrain(): void {
    if (!this.#split) this.#writeQueue();
  }

  /** Resolves when everything written so far reached the kernel, or the writer was closed. */
  flushed(): Promise<void> {
    if (this.#closed || (this.bufferedBytes === 0 && !this.#splitPumping)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Drops everything unwritten; later writes are ignored. */
  close(): void {
    this.#closed = true;
    this.#pending = [];
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#notify();
  }

  #flushPending = (): void => {
    this.#scheduled = false;
    if (this.#closed || this.#pending.length === 0) return;
    const parts = this.#pending;
    this.#pending = [];
    let data: Uint8Array;
    if (parts.length === 1) {
      const only = parts[0] as string | Uint8Array;
      data = typeof only === "string" ? Buffer.from(only) : only;
    } else if (parts.every((p) => typeof p === "string")) data = Buffer.from(parts.join(""));
    else data = Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p)));
    this.#queue.push(data);
    this.#queuedBytes += data.length;
    if (this.#split) this.#pumpSplit();
    else this.#writeQueue();
  };

  #writeQueue(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const head = this.#queue[0] as Uint8Array;
      const room = this.#limit - this.#written;
      const chunk = room < head.length ? head.subarray(0, room) : head;
      const n = chunk.length > 0 ? this.#socket.write(chunk) : 0;
      if (n < 0) {
        this.close();
        return;
      }
      this.#written += n;
      this.#queuedBytes -= n;
      if (this.#written >= this.#limit) {
        this.#hitLimit();
        return;
      }
      if (n < head.length) {
        this.#queue[0] = head.subarray(n);
        return; // the kernel is full: wait for drain
      }
      this.#queue.shift();
    }
    this.#notify();
  }

  #pumpSplit(): void {
    if (this.#splitPumping) return;
    this.#splitPumping = true;
    const step = (): void => {
      if (this.#closed) {
        this.#splitPumping = false;
        return;
      }
      const head = this.#queue[0];
      if (head === undefined) {
        this.#splitPumping = false;
        this.#notify();
        return;
      }
      const n = this.#socket.write(head.subarray(0, 1));
      if (n < 0) {
        this.#splitPumping = false;
        this.close();
        return;
      }
      if (n === 1) {
        this.#written++;
        this.#queuedBytes--;
        if (head.length === 1) this.#queue.shift();
        else this.#queue[0] = head.subarray(1);
        if (this.#written >= this.#limit) {
          this.#splitPumping = false;
          this.#hitLimit();
          return;
        }
      }
      // A macrotask between bytes: otherwise the kernel would coalesce them and the peer would read one chunk.
      if (n === 1) setImmediate(step);
      else setTimeout(step, 1);
    };
    step();
  }

  #hitLimit(): void {
    this.close();
    this.#onLimit();
  }

  #notify(): void {
    if (!this.#closed && (this.bufferedBytes > 0 || this.#splitPumping)) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}
