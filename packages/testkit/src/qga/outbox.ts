import type { Socket } from "bun";

/**
 * An ordered write queue for one server-side socket. Bun's `socket.write` takes only what the kernel accepts and
 * keeps nothing, so the rest waits here for `drain`. `split` writes one byte per write with a timer tick between
 * them, so a client really receives the reply in single-byte chunks.
 */
export class Outbox {
  readonly #socket: Socket<unknown>;
  #chain: Promise<void> = Promise.resolve();
  #drained: (() => void) | undefined;
  #closed = false;

  constructor(socket: Socket<unknown>) {
    this.#socket = socket;
  }

  /** Called from the socket's `drain` handler. */
  onDrain(): void {
    const resume = this.#drained;
    this.#drained = undefined;
    resume?.();
  }

  /** Called from the socket's `close` handler: pending and later writes are dropped. */
  onClose(): void {
    this.#closed = true;
    this.onDrain();
  }

  /** Queues `bytes` after everything queued before; resolves once the kernel took them (or the socket closed). */
  write(bytes: Uint8Array, split = false): Promise<void> {
    this.#chain = this.#chain.then(() => (split ? this.#writeSplit(bytes) : this.#writeAll(bytes)));
    return this.#chain;
  }

  /** Ends the connection after everything queued so far was written (Bun's `end()` alone would drop it). */
  end(): void {
    this.#chain = this.#chain.then(() => {
      this.#socket.end();
    });
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let rest = bytes;
    while (rest.length > 0 && !this.#closed) {
      const written = this.#socket.write(rest);
      if (written < 0) return;
      rest = rest.subarray(written);
      if (rest.length > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    }
  }

  async #writeSplit(bytes: Uint8Array): Promise<void> {
    for (let i = 0; i < bytes.length && !this.#closed; i++) {
      await this.#writeAll(bytes.subarray(i, i + 1));
      // A macrotask between bytes lets each one reach the peer as its own read.
      await Bun.sleep(1);
    }
  }
}
