/**
 * Test helpers: a bounded wait, and a raw QMP peer on `Bun.connect` that keeps the exact bytes it receives, for
 * checking the fake's wire format without trusting the client library.
 */
import { connectInProcess, resolveAddress } from "@qmpkit/protocol-core";
import type { Socket, SocketHandler } from "bun";

/**
 * A raw socket to any address a fake listens on (`unix:`, `tcp:` or `inproc:`), for tests that write bytes
 * themselves. `allowHalfOpen` keeps reading after `shutdown`; an in-process peer has no half-open state.
 */
export function connectRaw<T = undefined>(
  address: string,
  socket: SocketHandler<T>,
  options: { allowHalfOpen?: boolean } = {},
): Promise<Socket<T>> {
  const resolved = resolveAddress(address);
  const allowHalfOpen = options.allowHalfOpen === true;
  switch (resolved.kind) {
    case "unix":
      return Bun.connect({ unix: resolved.path, allowHalfOpen, socket });
    case "tcp":
      return Bun.connect({ hostname: resolved.host, port: resolved.port, allowHalfOpen, socket });
    case "inproc":
      return connectInProcess(resolved.name, socket);
  }
}

/** Rejects if `promise` does not settle within `ms`: a bound on waits, never a synchronisation. */
export function within<T>(promise: Promise<T>, ms = 5000, what = "operation"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]);
}

/** A raw QMP peer: sends text, collects complete lines (CRLF kept) and chunk boundaries. */
export class RawPeer {
  readonly lines: string[] = [];
  readonly chunks: Buffer[] = [];
  closed = false;
  #socket: Socket<undefined> | undefined;
  #partial = "";
  #waiters: (() => void)[] = [];
  #closedWaiters: (() => void)[] = [];

  static async connect(address: string): Promise<RawPeer> {
    const peer = new RawPeer();
    peer.#socket = await connectRaw(address, {
      data: (_s, chunk) => peer.#onData(chunk),
      close: () => peer.#onClose(),
      error: () => peer.#onClose(),
    });
    return peer;
  }

  /** All bytes received so far, as text. */
  get text(): string {
    return Buffer.concat(this.chunks).toString();
  }

  send(text: string): void {
    this.#socket?.write(text);
  }

  /** Sends one message (JSON + "\n"). */
  sendJson(message: unknown): void {
    this.send(`${JSON.stringify(message)}\n`);
  }

  /** Waits until at least `count` complete lines arrived in total; returns them. */
  async waitLines(count: number, ms = 5000): Promise<string[]> {
    await within(
      (async () => {
        while (this.lines.length < count) {
          if (this.closed) throw new Error(`peer closed after ${this.lines.length} of ${count} lines`);
          await new Promise<void>((resolve) => this.#waiters.push(resolve));
        }
      })(),
      ms,
      `${count} lines`,
    );
    return this.lines.slice(0, count);
  }

  /** Waits for the line at `index` and parses it. */
  async message(index: number, ms = 5000): Promise<Record<string, unknown>> {
    const lines = await this.waitLines(index + 1, ms);
    return JSON.parse(lines[index] as string) as Record<string, unknown>;
  }

  /** Resolves when the server closes the connection. */
  waitClosed(ms = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return within(new Promise<void>((resolve) => this.#closedWaiters.push(resolve)), ms, "close");
  }

  /**
   * Reads the greeting and negotiates (optionally with oob); returns the greeting. The greeting is always the
   * first line, whether or not it has arrived yet (counting from the lines seen at the call made a peer that was
   * slow to negotiate wait for a second greeting).
   */
  async negotiate(oob = false): Promise<Record<string, unknown>> {
    const greeting = await this.message(0);
    const before = this.lines.length;
    this.sendJson(
      oob ? { execute: "qmp_capabilities", arguments: { enable: ["oob"] } } : { execute: "qmp_capabilities" },
    );
    await this.waitLines(before + 1);
    return greeting;
  }

  end(): void {
    this.#socket?.end();
  }

  #onData(chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
    this.#partial += chunk.toString("latin1");
    let nl = this.#partial.indexOf("\n");
    while (nl >= 0) {
      this.lines.push(Buffer.from(this.#partial.slice(0, nl + 1), "latin1").toString());
      this.#partial = this.#partial.slice(nl + 1);
      nl = this.#partial.indexOf("\n");
    }
    this.#wake();
  }

  #onClose(): void {
    this.closed = true;
    this.#wake();
    for (const resolve of this.#closedWaiters.splice(0)) resolve();
  }

  #wake(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}

/** Sends `inputs` one by one, each followed by a sync command, and returns the lines each input produced. */
export async function probeInputs(peer: RawPeer, inputs: readonly string[]): Promise<string[][]> {
  const results: string[][] = [];
  for (const [i, input] of inputs.entries()) {
    const start = peer.lines.length;
    const sync = `sync-${i}`;
    peer.send(input);
    peer.send(`{"execute": "query-name", "id": "${sync}"}\n`);
    let end = -1;
    while (end < 0) {
      end = peer.lines.findIndex((line, k) => k >= start && line.includes(`"${sync}"`));
      if (end < 0) await peer.waitLines(peer.lines.length + 1);
    }
    results.push(peer.lines.slice(start, end));
  }
  return results;
}
