import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, TCPSocketListener, TLSOptions, UnixSocketListener } from "bun";
import { AsyncProtocol, type ProtocolOptions, type Runstate } from "../src/index.ts";

const decoder = new TextDecoder();

/** The smallest useful subclass: one UTF-8 line per message. */
export class LineProtocol extends AsyncProtocol<string> {
  readonly received: string[] = [];
  #waiters: { count: number; resolve: () => void }[] = [];
  sessionEnds: unknown[] = [];

  constructor(options: ProtocolOptions<string> = {}) {
    super(options);
  }

  protected decodeMessage(frame: Uint8Array): string {
    const text = decoder.decode(frame);
    if (text === "BAD") throw new Error("undecodable message");
    return text;
  }

  protected encodeMessage(message: string): string {
    return `${message}\n`;
  }

  protected onMessage(message: string): void {
    this.received.push(message);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.received.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  protected override onSessionEnd(error: unknown): void {
    this.sessionEnds.push(error);
  }

  sendLine(line: string): number {
    return this.send(line);
  }

  get queuedBytes(): number {
    return this.bufferedWriteBytes;
  }

  flushed(): Promise<void> {
    return this.writesFlushed();
  }

  /** Resolves once `count` messages were received in total. */
  waitForMessages(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }
}

/** A fresh 0700 temp dir with a socket path in it; removed by `cleanup()`. */
export function tempSocketPath(): { path: string; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-core-"));
  return { path: join(dir, "peer.sock"), dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Peer {
  readonly sockets: Socket<undefined>[];
  readonly received: Buffer[];
  readonly connected: Promise<Socket<undefined>>;
  readonly closed: Promise<void>;
  receivedText(): string;
  /** Resolves with the `n`-th connection (1-based) once it is open. */
  waitForConnection(n: number): Promise<Socket<undefined>>;
  /** Resolves once the peer has received at least `bytes` bytes. */
  waitForBytes(bytes: number): Promise<void>;
  stop(): void;
}

/** A raw server on `Bun.listen` playing the other side; `onOpen` may write a greeting. */
export function listenPeer(
  where: { unix: string } | { port: number; tls?: TLSOptions },
  hooks: {
    onOpen?: (socket: Socket<undefined>) => void;
    onData?: (socket: Socket<undefined>, chunk: Buffer) => void;
    pauseReading?: boolean;
  } = {},
): Peer & { port: number } {
  const sockets: Socket<undefined>[] = [];
  const received: Buffer[] = [];
  let receivedBytes = 0;
  const connected = Promise.withResolvers<Socket<undefined>>();
  const closed = Promise.withResolvers<void>();
  let byteWaiters: { bytes: number; resolve: () => void }[] = [];
  let connectionWaiters: { n: number; resolve: (socket: Socket<undefined>) => void }[] = [];
  const handlers = {
    open(socket: Socket<undefined>) {
      sockets.push(socket);
      if (hooks.pauseReading) socket.pause();
      hooks.onOpen?.(socket);
      connected.resolve(socket);
      connectionWaiters = connectionWaiters.filter((w) => {
        if (sockets.length < w.n) return true;
        w.resolve(sockets[w.n - 1] as Socket<undefined>);
        return false;
      });
    },
    data(socket: Socket<undefined>, chunk: Buffer) {
      received.push(Buffer.from(chunk));
      receivedBytes += chunk.length;
      byteWaiters = byteWaiters.filter((w) => {
        if (receivedBytes < w.bytes) return true;
        w.resolve();
        return false;
      });
      hooks.onData?.(socket, chunk);
    },
    close() {
      closed.resolve();
    },
    error() {},
  };
  const server: UnixSocketListener<undefined> | TCPSocketListener<undefined> =
    "unix" in where
      ? Bun.listen({ unix: where.unix, socket: handlers })
      : Bun.listen({
          hostname: "127.0.0.1",
          port: where.port,
          socket: handlers,
          ...(where.tls ? { tls: where.tls } : {}),
        });
  return {
    sockets,
    received,
    connected: connected.promise,
    closed: closed.promise,
    port: "port" in server ? server.port : 0,
    receivedText: () => Buffer.concat(received).toString(),
    waitForConnection(n) {
      const socket = sockets[n - 1];
      if (socket) return Promise.resolve(socket);
      return new Promise((resolve) => connectionWaiters.push({ n, resolve }));
    },
    waitForBytes(bytes) {
      if (receivedBytes >= bytes) return Promise.resolve();
      return new Promise((resolve) => byteWaiters.push({ bytes, resolve }));
    },
    stop() {
      server.stop(true);
    },
  };
}

/** Collects every runstate change of `protocol` from now on. */
export function recordStates(protocol: Pick<AsyncProtocol<never>, "runstateChanges">): {
  states: Runstate[];
  stop: () => void;
} {
  const states: Runstate[] = [];
  const changes = protocol.runstateChanges();
  let active = true;
  (async () => {
    for await (const state of changes) {
      states.push(state);
      if (!active) break;
    }
  })();
  return {
    states,
    stop: () => {
      active = false;
      void changes.return?.();
    },
  };
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

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export function closedTcpPort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/** A throwaway self-signed certificate for localhost/127.0.0.1, made with openssl (undefined without openssl). */
export function selfSignedCert(): { key: string; cert: string } | undefined {
  const openssl = Bun.which("openssl");
  if (!openssl) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-tls-"));
  try {
    const [keyPath, certPath] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    const made = Bun.spawnSync(
      [
        openssl,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
      ].concat([
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        keyPath,
        "-out",
        certPath,
      ]),
      { stderr: "pipe" },
    );
    if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
    return { key: readFileSync(keyPath, "utf8"), cert: readFileSync(certPath, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Patches `signal` so that it counts its abort listeners, and returns the count's getter: tests use it to prove
 * that every listener added for a call is removed when the call settles, on every path.
 */
export function countAbortListeners(signal: AbortSignal): () => number {
  const live = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((
    type: string,
    listener: Parameters<AbortSignal["addEventListener"]>[1],
    options?: unknown,
  ) => {
    if (type === "abort") {
      live.add(listener);
      // A once listener is removed by the signal itself when it fires.
      if (typeof options === "object" && options !== null && (options as { once?: boolean }).once)
        add("abort", () => live.delete(listener));
    }
    add(type, listener, options as AddEventListenerOptions);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((
    type: string,
    listener: Parameters<AbortSignal["addEventListener"]>[1],
    options?: unknown,
  ) => {
    if (type === "abort") live.delete(listener);
    remove(type, listener, options as EventListenerOptions);
  }) as typeof signal.removeEventListener;
  return () => live.size;
}
