/**
 * In-process connections (`inproc:NAME`, as ZeroMQ spells them): a server and a client in one process talk through
 * a pair of endpoints instead of a kernel socket, with no file, port or descriptor. The CLI's embedded fake QEMU
 * is the user: a one-shot `qmpkit exec --fake` would otherwise spend more time on a temp dir, a listening socket
 * and their removal than on its command.
 *
 * Each endpoint offers the part of Bun's `Socket` this workspace uses (`write`, `end`, `terminate`, `data`) and
 * calls the handlers as Bun calls them, measured with Bun 1.4.4 on unix sockets:
 * - bytes written arrive at the peer's `data` handler on a later event-loop turn, never inside the writer's call,
 *   joined into one chunk per turn (as the kernel coalesces what a reader has not read yet), as a `Buffer`;
 * - `write` takes everything (no `drain` is ever needed) and returns -1 once the endpoint is closed;
 * - `end()` and `terminate()` close the endpoint at once, its own `close` handler running inside the call; the
 *   peer gets what was written before, then `end`, then `close`, on a later turn, all without an error (Bun's
 *   non-half-open socket closes on `end()`, so neither side ever sees a half-open connection).
 */
import type { Socket, SocketHandler } from "bun";

/** What {@link listenInProcess} takes: Bun.listen's `socket` handlers and, optionally, the name to claim. */
export interface InProcessListenOptions<T> {
  /** The name in `inproc:NAME`. @default a fresh `qmpkit-N` */
  readonly name?: string;
  readonly socket: SocketHandler<T>;
}

/** A listening in-process endpoint; {@link connectInProcess} reaches it by name. */
export interface InProcessListener {
  /** `inproc:NAME`, accepted wherever a `SocketAddress` is. */
  readonly address: string;
  readonly name: string;
  /** Stops accepting; with `closeActive`, also closes every connection it accepted. Idempotent. */
  stop(closeActive?: boolean): void;
}

interface Registered {
  readonly handlers: SocketHandler<unknown>;
  readonly accepted: Set<InProcessEndpoint>;
}

const listening = new Map<string, Registered>();
let lastGeneratedName = 0;

/**
 * Listens on `inproc:NAME` in this process.
 * @throws an `EADDRINUSE` error when the name is taken, as `Bun.listen` does for a path in use.
 * @example const listener = listenInProcess({ socket: { data: (s, chunk) => s.write(chunk) } });
 */
export function listenInProcess<T>(options: InProcessListenOptions<T>): InProcessListener {
  const name = options.name ?? nextFreeName();
  if (listening.has(name)) {
    throw Object.assign(new Error(`inproc:${name} is already listening`), { code: "EADDRINUSE" });
  }
  const registered: Registered = {
    handlers: options.socket as SocketHandler<unknown>,
    accepted: new Set(),
  };
  listening.set(name, registered);
  return {
    address: `inproc:${name}`,
    name,
    stop(closeActive = false) {
      if (listening.get(name) === registered) listening.delete(name);
      if (closeActive) for (const endpoint of [...registered.accepted]) endpoint.terminate();
    },
  };
}

/**
 * Connects to the in-process listener `name`. The server's `open` runs before the client's, both before this
 * resolves, and nothing arrives before the caller has the socket.
 * @throws (rejects) an `ECONNREFUSED` error when nothing listens there, as `Bun.connect` does.
 */
export function connectInProcess<T>(name: string, handlers: SocketHandler<T>): Promise<Socket<T>> {
  const server = listening.get(name);
  if (server === undefined) {
    const error = Object.assign(new Error("Failed to connect"), { code: "ECONNREFUSED", errno: -111 });
    handlers.connectError?.(undefined as never, error);
    return Promise.reject(error);
  }
  const client = new InProcessEndpoint(handlers as SocketHandler<unknown>);
  const accepted = new InProcessEndpoint(server.handlers);
  client.pair(accepted);
  server.accepted.add(accepted);
  accepted.onClosed = () => server.accepted.delete(accepted);
  server.handlers.open?.(accepted.asSocket());
  handlers.open?.(client.asSocket() as Socket<T>);
  return Promise.resolve(client.asSocket() as Socket<T>);
}

function nextFreeName(): string {
  let name: string;
  do name = `qmpkit-${++lastGeneratedName}`;
  while (listening.has(name));
  return name;
}

const encoder = new TextEncoder();

/** One end of an in-process connection. */
class InProcessEndpoint {
  /** The user's slot, as Bun's `socket.data`. */
  data: unknown;
  onClosed: (() => void) | undefined;
  readonly #handlers: SocketHandler<unknown>;
  #peer: InProcessEndpoint | undefined;
  #closed = false;
  /** Bytes the peer wrote that this end's `data` handler has not had yet. */
  #inbox: Uint8Array[] = [];
  #peerEnded = false;
  #deliveryScheduled = false;

  constructor(handlers: SocketHandler<unknown>) {
    this.#handlers = handlers;
  }

  pair(peer: InProcessEndpoint): void {
    this.#peer = peer;
    peer.#peer = this;
  }

  asSocket(): Socket<unknown> {
    return this as unknown as Socket<unknown>;
  }

  write(data: string | ArrayBufferView | ArrayBuffer, byteOffset = 0, byteLength?: number): number {
    if (this.#closed) return -1;
    const bytes = ownBytes(data, byteOffset, byteLength);
    const peer = this.#peer;
    if (peer !== undefined && bytes.length > 0) peer.#receive(bytes);
    return bytes.length;
  }

  end(): void {
    this.#close();
  }

  terminate(): void {
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inbox = [];
    const peer = this.#peer;
    if (peer !== undefined) peer.#receiveEnd();
    this.onClosed?.();
    this.#handlers.close?.(this.asSocket(), undefined);
  }

  #receive(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#inbox.push(bytes);
    this.#scheduleDelivery();
  }

  #receiveEnd(): void {
    if (this.#closed) return;
    this.#peerEnded = true;
    this.#scheduleDelivery();
  }

  #scheduleDelivery(): void {
    if (this.#deliveryScheduled) return;
    this.#deliveryScheduled = true;
    setImmediate(() => this.#deliver());
  }

  #deliver(): void {
    this.#deliveryScheduled = false;
    if (this.#closed) return;
    const chunks = this.#inbox;
    this.#inbox = [];
    if (chunks.length > 0) this.#handlers.data?.(this.asSocket(), Buffer.concat(chunks));
    if (!this.#peerEnded || this.#closed) return;
    this.#handlers.end?.(this.asSocket());
    this.#close();
  }
}

/**
 * The bytes of a write, in an array of their own: the caller may reuse its buffer at once (the kernel would have
 * copied it), while a string's encoding is fresh already.
 */
function ownBytes(data: string | ArrayBufferView | ArrayBuffer, byteOffset: number, byteLength?: number) {
  if (typeof data === "string") return encoder.encode(data);
  const view =
    data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return view.slice(byteOffset, byteLength === undefined ? undefined : byteOffset + byteLength);
}
