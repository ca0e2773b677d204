import type { Socket, SocketHandler, SocketListener, TLSOptions } from "bun";
import { type ResolvedAddress, resolveAddress, type SocketAddress, type TlsSetting } from "./address.ts";
import { Deadline, raceAbort, settlesWithin, sleep } from "./cancel.ts";
import {
  BackpressureError,
  ConnectError,
  ConnectionClosedError,
  ListenerBusyError,
  ProtocolError,
  StateError,
  TimeoutError,
} from "./errors.ts";
import { DEFAULT_MAX_MESSAGE_BYTES, LineDecoder } from "./framing.ts";
import { connectInProcess, listenInProcess } from "./in-process.ts";
import { lstatSync, rmSync } from "./lazy-fs.ts";
import { createLogger, type Logger } from "./logger.ts";
import { RUNSTATE_TRANSITIONS, Runstate } from "./runstate.ts";
import { SocketWriter } from "./writer.ts";

/** Options of an {@link AsyncProtocol} instance. */
export interface ProtocolOptions<T> {
  /** A name for this connection, shown in logs and `inspect` output. */
  name?: string;
  /** Where log lines go. @default a logger enabled by the QMPKIT_DEBUG environment variable */
  logger?: Logger;
  /** The largest inbound message, in bytes. @default 10 MiB */
  maxMessageBytes?: number;
  /**
   * The most bytes held for a peer that is not reading; a `send` beyond it throws {@link BackpressureError}
   * instead of queueing without bound. @default 64 MiB
   */
  maxBufferedWriteBytes?: number;
  /** Observes every inbound message, in wire order, before the protocol handles it. */
  onInbound?: (message: T) => void;
  /** Observes every outbound message, in send order, before it is written. */
  onOutbound?: (message: T) => void;
}

/** Options of `connect()`, `accept()` and `startServerAndAccept()`. */
export interface ConnectOptions {
  /** Aborts the attempt; the promise then rejects with `signal.reason`, unwrapped. */
  signal?: AbortSignal;
  /** Ends the whole attempt (connection and session set-up) with a {@link TimeoutError}. */
  timeoutMs?: number;
  /**
   * TLS for TCP addresses. The peer's certificate is verified unless `rejectUnauthorized: false` is given.
   * For `startServer`, pass `{ key, cert }`.
   */
  tls?: TlsSetting;
  /** Overrides the instance's `maxMessageBytes` for this session. */
  maxMessageBytes?: number;
}

type Deferred<V> = ReturnType<typeof Promise.withResolvers<V>>;

interface Attempt {
  readonly controller: AbortController;
  readonly signal: AbortSignal;
  /** Rejected when the connection fails underneath the set-up (peer closed, garbage arrived). */
  readonly failure: Deferred<never>;
  /** The error `failure` was rejected with, once it was: recv() reads it without racing the promise. */
  failedWith?: { readonly error: unknown };
}

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** @see ProtocolOptions.maxBufferedWriteBytes */
export const DEFAULT_MAX_BUFFERED_WRITE_BYTES = 64 * 1024 * 1024;

/**
 * How long a refused connect to an existing unix socket is retried when the call has no `timeoutMs`: the listener
 * is probably busy (QEMU's monitor serves one client and queues two), or its process is gone.
 */
export const DEFAULT_BUSY_WAIT_MS = 5_000;

/** How long a clean disconnect waits for queued writes and for the peer before it resets the socket. */
const CLOSE_GRACE_MS = 5_000;

/**
 * A generic, message-based protocol session over a unix or TCP socket (optionally TLS), driven by Bun's socket
 * handlers. Subclasses say how a message is encoded and decoded, what happens when one arrives, and how a session
 * is established (greeting, negotiation); this class owns everything else: the runstate machine, framing, the write
 * queue, timeouts, cancellation and the exact error semantics of connecting and disconnecting.
 *
 * @example
 * class EchoClient extends AsyncProtocol<string> {
 *   protected decodeMessage(line: Uint8Array) { return new TextDecoder().decode(line); }
 *   protected encodeMessage(msg: string) { return `${msg}\n`; }
 *   protected onMessage(msg: string) { console.log("got", msg); }
 * }
 * await using client = new EchoClient();
 * await client.connect("unix:/tmp/echo.sock");
 */
export abstract class AsyncProtocol<T> {
  readonly #name: string | undefined;
  readonly #options: ProtocolOptions<T>;
  protected readonly logger: Logger;

  #state: Runstate = Runstate.IDLE;
  #stateWaiters: ((state: Runstate) => void)[] = [];
  /** Set while runstateChanged() callers woken by the last transition have not had their turn yet. */
  #watchersCatchingUp: Promise<void> | undefined;
  #stateSubscribers = new Set<(state: Runstate) => void>();

  #attempt: Attempt | undefined;
  #socket: Socket<unknown> | undefined;
  #writer: SocketWriter | undefined;
  #socketClosed: Deferred<void> | undefined;
  /** Whether `#socketClosed` was resolved: a wait for it then needs no grace timer (an in-process end() closes at once). */
  #socketHasClosed = false;
  #server: Pick<SocketListener<unknown>, "stop"> | undefined;
  #serverPath: string | undefined;
  #listeningAddress: ResolvedAddress | undefined;
  #peerArrived: Deferred<Socket<unknown>> | undefined;
  #tls: TlsSetting | undefined;
  /** True when this side listened and accepted its peer, false when it connected. */
  #acceptsPeers = false;
  #handshake: Deferred<void> | undefined;

  #decoder: LineDecoder;
  #sessionEstablished = false;
  #preSessionMessages: T[] = [];
  #recvWaiter: Deferred<T> | undefined;

  #sessionError: unknown;
  #sessionErrorReported = true;
  #disconnecting: Promise<void> | undefined;
  #attemptRunning: Promise<void> | undefined;

  constructor(options: ProtocolOptions<T> = {}) {
    this.#options = options;
    this.#name = options.name;
    const loggerName = this.#name === undefined ? this.loggerPrefix : `${this.loggerPrefix}.${this.#name}`;
    this.logger = options.logger ?? createLogger(loggerName);
    this.#decoder = new LineDecoder({
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    });
  }

  // ---- what subclasses provide -------------------------------------------------------------------------------

  /** Turns one frame (a line without its terminator) into a message; throw to end the session. */
  protected abstract decodeMessage(frame: Uint8Array): T;
  /** Turns a message into bytes to write, including the line terminator. */
  protected abstract encodeMessage(message: T): string | Uint8Array;
  /** Handles one inbound message of a running session, in wire order. */
  protected abstract onMessage(message: T): void;

  /**
   * Runs after the transport connects and before the session is RUNNING: read a greeting with {@link recv},
   * negotiate with {@link send}. Throwing fails the attempt with `ConnectError("Failed to establish session")`.
   */
  protected establishSession(_signal: AbortSignal): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Called once when a session that reached RUNNING ends, for any reason, after inbound delivery stopped.
   * `error` is what ended it abnormally, or undefined on a clean disconnect.
   */
  protected onSessionEnd(_error: unknown): void {}

  /**
   * What a peer close while RUNNING means. The default is a {@link ConnectionClosedError}; return undefined when
   * the close was expected (the peer was told to quit), so `disconnect()` does not report it.
   */
  protected peerClosedError(): unknown {
    return new ConnectionClosedError();
  }

  /** The logger name's prefix; subclasses name their own layer. */
  protected get loggerPrefix(): string {
    return "qmpkit.protocol";
  }

  // ---- public surface ----------------------------------------------------------------------------------------

  /** The name given at construction, if any. */
  get name(): string | undefined {
    return this.#name;
  }

  /** The current {@link Runstate}. */
  get runstate(): Runstate {
    return this.#state;
  }

  /** The bound address while a server started by `startServer()` listens (useful with TCP port 0). */
  get listeningAddress(): ResolvedAddress | undefined {
    return this.#listeningAddress;
  }

  /**
   * Resolves with the next runstate this instance enters. To follow every change without gaps, iterate
   * {@link runstateChanges} instead: two changes can happen before an awaiting caller runs again.
   */
  runstateChanged(): Promise<Runstate> {
    return new Promise((resolve) => this.#stateWaiters.push(resolve));
  }

  /** Every runstate change from now on, in order, none missed. End the loop (`break`) to unsubscribe. */
  runstateChanges(): AsyncIterableIterator<Runstate> {
    const buffered: Runstate[] = [];
    let wake: (() => void) | undefined;
    const push = (state: Runstate): void => {
      buffered.push(state);
      wake?.();
    };
    this.#stateSubscribers.add(push);
    const unsubscribe = (): void => {
      this.#stateSubscribers.delete(push);
      wake?.();
    };
    const iterator: AsyncIterableIterator<Runstate> = {
      next: async () => {
        while (buffered.length === 0) {
          if (!this.#stateSubscribers.has(push)) return { done: true, value: undefined };
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
        return { done: false, value: buffered.shift() as Runstate };
      },
      return: async () => {
        unsubscribe();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /**
   * Connects to `address` and establishes a session. On any failure the instance is back in IDLE and the promise
   * rejects with {@link ConnectError} (`cause` = the root error), or with the abort reason / {@link TimeoutError}.
   */
  async connect(address: SocketAddress, options: ConnectOptions = {}): Promise<void> {
    this.#requireState(Runstate.IDLE);
    const resolved = resolveAddress(address);
    this.#beginConnecting(options);
    await this.#completeConnecting(options, (signal) => this.#openClientSocket(resolved, options, signal));
  }

  /**
   * Starts listening on `address` and returns once the listening socket exists, so a peer may connect at once.
   * Follow with {@link accept}. The runstate is CONNECTING until the session is established.
   */
  async startServer(
    address: SocketAddress,
    options: Pick<ConnectOptions, "tls" | "maxMessageBytes"> = {},
  ): Promise<void> {
    this.#requireState(Runstate.IDLE);
    const resolved = resolveAddress(address);
    this.#beginConnecting(options);
    try {
      this.#listen(resolved, options.tls);
    } catch (error) {
      await this.#teardown();
      throw new ConnectError("Failed to establish connection", error);
    }
  }

  /**
   * Waits for exactly one peer on the server from {@link startServer}, stops listening (any further peer is
   * closed), and establishes the session.
   */
  async accept(options: Omit<ConnectOptions, "tls"> = {}): Promise<void> {
    // The server may have stopped already: a peer that connected before accept() was called is the one taken.
    if (this.#state !== Runstate.CONNECTING || this.#peerArrived === undefined || this.#attemptRunning) {
      throw new StateError(
        `${this.constructor.name}: accept() requires a listening server; call startServer() first.`,
        this.#state,
        Runstate.CONNECTING,
      );
    }
    const peer = this.#peerArrived;
    await this.#completeConnecting(options, async () => {
      const socket = await peer.promise;
      await this.#handshake?.promise;
      return socket;
    });
  }

  /** {@link startServer} followed by {@link accept}. */
  async startServerAndAccept(address: SocketAddress, options: ConnectOptions = {}): Promise<void> {
    const listenOptions: Pick<ConnectOptions, "tls" | "maxMessageBytes"> = {};
    if (options.tls !== undefined) listenOptions.tls = options.tls;
    if (options.maxMessageBytes !== undefined) listenOptions.maxMessageBytes = options.maxMessageBytes;
    await this.startServer(address, listenOptions);
    const { tls: _tls, ...acceptOptions } = options;
    await this.accept(acceptOptions);
  }

  /**
   * Ends the session and releases every resource, from any state; always returns to IDLE. Queued writes are
   * flushed first on a clean session. If the session had ended abnormally (peer reset, undecodable data), that
   * first error is thrown here, once. Concurrent calls share one operation.
   */
  disconnect(): Promise<void> {
    this.#disconnecting ??= this.#disconnectOnce();
    return this.#disconnecting;
  }

  /** try/finally, not `.finally()`: the same, without that builtin's first-call set-up on a one-shot's way out. */
  async #disconnectOnce(): Promise<void> {
    try {
      await this.#disconnect();
    } finally {
      this.#disconnecting = undefined;
    }
  }

  /**
   * `await using` support: {@link disconnect}, except that a clean close by the peer is not an error here. When two
   * ends leave their scopes, whichever closes second sees the other's EOF, and a scope exit should not throw for
   * that. Resets and protocol errors still throw.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.disconnect();
    } catch (error) {
      if (error instanceof ConnectionClosedError && error.cause === undefined) {
        if (this.logger.enabled) this.logger.debug("Peer had closed the connection before disposal");
        return;
      }
      throw error;
    }
  }

  toString(): string {
    const name = this.#name === undefined ? "" : ` name=${JSON.stringify(this.#name)}`;
    return `<${this.constructor.name}${name} runstate=${this.#state}>`;
  }

  [INSPECT](): string {
    return this.toString();
  }

  // ---- tools for subclasses ----------------------------------------------------------------------------------

  /**
   * Sends one message. Allowed while RUNNING, and while CONNECTING once the transport is up (negotiation).
   * Returns the bytes still queued for the kernel, so bulk senders can throttle. Throws
   * {@link BackpressureError}, queueing nothing, when the peer has left `maxBufferedWriteBytes` unread.
   */
  protected send(message: T): number {
    const writer = this.#writer;
    if (writer === undefined || (this.#state !== Runstate.RUNNING && this.#state !== Runstate.CONNECTING)) {
      throw this.#stateError(Runstate.RUNNING);
    }
    return this.#write(writer, message);
  }

  /**
   * {@link send} for a running session only: a message sent while CONNECTING (before negotiation finished) or
   * after the session ended throws a {@link StateError}. The one runstate check of a command's path.
   */
  protected sendInSession(message: T): number {
    if (this.#state !== Runstate.RUNNING) throw this.#stateError(Runstate.RUNNING);
    // RUNNING implies a writer: it is made before the session runs and dropped only after it stopped.
    return this.#write(this.#writer as SocketWriter, message);
  }

  #write(writer: SocketWriter, message: T): number {
    const limit = this.#options.maxBufferedWriteBytes ?? DEFAULT_MAX_BUFFERED_WRITE_BYTES;
    if (writer.bufferedBytes >= limit) throw new BackpressureError(limit);
    if (this.logger.enabled) this.logger.debug("--> %o", message);
    this.#options.onOutbound?.(message);
    writer.write(this.encodeMessage(message));
    return writer.bufferedBytes;
  }

  /** Writes bytes that are not a message (a resynchronisation byte, say), in order with messages. */
  protected sendBytes(bytes: Uint8Array): void {
    const writer = this.#writer;
    if (writer === undefined) throw this.#stateError(Runstate.RUNNING);
    writer.write(bytes);
  }

  /** Bytes sent but not yet taken by the kernel: what a peer that does not read makes us hold. */
  protected get bufferedWriteBytes(): number {
    return this.#writer?.bufferedBytes ?? 0;
  }

  /** Resolves when every queued byte was handed to the kernel. */
  protected writesFlushed(): Promise<void> {
    return this.#writer?.flushed() ?? Promise.resolve();
  }

  /** The socket's file descriptor while connected (for SCM_RIGHTS), or undefined. */
  protected get socketFd(): number | undefined {
    const fd = (this.#socket as { fd?: unknown } | undefined)?.fd;
    return typeof fd === "number" && fd >= 0 ? fd : undefined;
  }

  /** Receives the next message during session set-up (CONNECTING); later messages go to {@link onMessage}. */
  protected recv(): Promise<T> {
    if (this.#state !== Runstate.CONNECTING || this.#sessionEstablished) {
      return Promise.reject(this.#stateError(Runstate.CONNECTING));
    }
    const queued = this.#preSessionMessages.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    // A failure before this call rejects at once; a later one rejects the waiter (#fail). No Promise.race() with
    // `failure`: its first call costs a compiled CLI a builtin's set-up on every connect.
    const failed = this.#attempt?.failedWith;
    if (failed !== undefined) return Promise.reject(failed.error);
    this.#recvWaiter = Promise.withResolvers<T>();
    return this.#recvWaiter.promise;
  }

  /** Ends a running session with `error`, as if the transport had failed; `disconnect()` will rethrow it. */
  protected failSession(error: unknown): void {
    this.#fail(error);
  }

  // ---- lifecycle internals -----------------------------------------------------------------------------------

  #setState(next: Runstate): void {
    const previous = this.#state;
    if (previous === next) return;
    if (!RUNSTATE_TRANSITIONS[previous].includes(next)) {
      throw new Error(`BUG: illegal runstate transition ${previous} -> ${next}`);
    }
    this.#state = next;
    if (this.logger.enabled) this.logger.debug(`Transitioning from '${previous}' to '${next}'.`);
    const waiters = this.#stateWaiters;
    this.#stateWaiters = [];
    for (const subscriber of this.#stateSubscribers) subscriber(next);
    // Resolution is asynchronous anyway; doing it in a microtask keeps listeners out of a half-made transition.
    if (waiters.length > 0) {
      queueMicrotask(() => {
        for (const resolve of waiters) resolve(next);
      });
      const caughtUp = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        if (this.#watchersCatchingUp === caughtUp) this.#watchersCatchingUp = undefined;
      });
      this.#watchersCatchingUp = caughtUp;
    }
  }

  /**
   * Moves to `next` once the callers that the previous transition woke have run. A caller that re-awaits
   * runstateChanged() in a loop (qemu.qmp's `_watch_runstates`) resumes within microtasks of its wake-up; waiting
   * for the next macrotask before a transition that follows at once lets it call again, so it sees every state:
   * `DISCONNECTING, IDLE` after a superfluous disconnect(), `CONNECTING, DISCONNECTING, IDLE` after a failed connect.
   */
  async #transition(next: Runstate): Promise<void> {
    while (this.#watchersCatchingUp !== undefined) await this.#watchersCatchingUp;
    this.#setState(next);
  }

  #stateError(required: Runstate): StateError {
    const name = this.constructor.name;
    const messages: Record<Runstate, string> = {
      IDLE: `${name} is disconnected and idle.`,
      CONNECTING: `${name} is currently connecting.`,
      RUNNING: `${name} is already connected and running.`,
      DISCONNECTING: `${name} is disconnecting. Call disconnect() to return to IDLE state.`,
    };
    return new StateError(messages[this.#state], this.#state, required);
  }

  #requireState(required: Runstate): void {
    if (this.#state !== required) throw this.#stateError(required);
  }

  #beginConnecting(options: Pick<ConnectOptions, "maxMessageBytes">): void {
    this.#setState(Runstate.CONNECTING);
    this.#sessionError = undefined;
    this.#sessionErrorReported = true;
    this.#sessionEstablished = false;
    this.#preSessionMessages = [];
    this.#decoder = new LineDecoder({
      maxMessageBytes: options.maxMessageBytes ?? this.#options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    });
    const controller = new AbortController();
    const failure = Promise.withResolvers<never>();
    failure.promise.catch(() => {});
    this.#attempt = { controller, signal: controller.signal, failure };
  }

  async #completeConnecting(
    options: Omit<ConnectOptions, "tls">,
    openTransport: (signal: AbortSignal) => Promise<Socket<unknown>>,
  ): Promise<void> {
    const attempt = this.#attempt as Attempt;
    const running = Promise.withResolvers<void>();
    this.#attemptRunning = running.promise;
    const deadline = new Deadline({
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      onTimeout: () =>
        new TimeoutError(
          `Connection attempt timed out after ${options.timeoutMs} ms`,
          "QMP_ERR_CONNECT_TIMEOUT",
        ),
    });
    const signal = AbortSignal.any([attempt.signal, deadline.signal]);
    let phase: "connection" | "session" = "connection";
    try {
      const socket = await raceAbort(openTransport(signal), signal, attempt.failure.promise);
      this.#adopt(socket);
      phase = "session";
      await raceAbort(this.establishSession(signal), signal, attempt.failure.promise);
      this.#enterRunning();
    } catch (error) {
      await this.#teardown();
      if (signal.aborted) throw signal.reason;
      throw error instanceof ConnectError ? error : new ConnectError(`Failed to establish ${phase}`, error);
    } finally {
      deadline.clear();
      this.#attemptRunning = undefined;
      running.resolve();
    }
  }

  #enterRunning(): void {
    this.#sessionEstablished = true;
    this.#attempt = undefined;
    this.#setState(Runstate.RUNNING);
    // Messages that arrived with the greeting or negotiation reply but were not consumed belong to the session.
    const early = this.#preSessionMessages;
    this.#preSessionMessages = [];
    for (const message of early) {
      if (this.#state !== Runstate.RUNNING) break;
      this.#deliver(message);
    }
  }

  #handlers(onOpen: (socket: Socket<unknown>) => void): SocketHandler<unknown> {
    return {
      open: onOpen,
      data: (socket, chunk) => {
        if (socket === this.#socket) this.#onData(chunk);
      },
      drain: (socket) => {
        if (socket === this.#socket) this.#writer?.onDrain();
      },
      handshake: (socket, success, authorizationError) => {
        if (socket !== this.#socket && this.#socket !== undefined) return;
        // Clients verify the server by default; a server verifies clients only when it asked for certificates.
        const tls = typeof this.#tls === "object" ? this.#tls : {};
        const verify = this.#acceptsPeers
          ? tls.requestCert === true && tls.rejectUnauthorized !== false
          : tls.rejectUnauthorized !== false;
        if (!success || (verify && authorizationError)) {
          const error = authorizationError ?? new ProtocolError("TLS handshake failed");
          this.#handshake?.reject(error);
          this.#fail(error);
          socket.terminate();
        } else {
          this.#handshake?.resolve();
        }
      },
      error: (socket, error) => {
        if (socket === this.#socket) this.#fail(error);
      },
      connectError: () => {
        // Bun also rejects the connect promise, which is where the failure is handled.
      },
      close: (socket, error) => {
        if (socket === this.#socket) this.#onSocketClosed(error);
      },
    };
  }

  async #openClientSocket(
    address: ResolvedAddress,
    options: ConnectOptions,
    signal: AbortSignal,
  ): Promise<Socket<unknown>> {
    this.#tls = address.kind === "tcp" ? options.tls : undefined;
    this.#acceptsPeers = false;
    const tls = this.#tls;
    this.#handshake = tls ? Promise.withResolvers<void>() : undefined;
    this.#handshake?.promise.catch(() => {});
    const handlers = this.#handlers((socket) => {
      // A connect that completes after the attempt was abandoned must not leave a socket behind.
      if (signal.aborted) socket.terminate();
    });
    const dial = (): Promise<Socket<unknown>> => {
      const connecting =
        address.kind === "unix"
          ? Bun.connect({ unix: address.path, socket: handlers })
          : address.kind === "inproc"
            ? connectInProcess(address.name, handlers)
            : Bun.connect({
                hostname: address.host,
                port: address.port,
                socket: handlers,
                ...(tls ? { tls: clientTls(tls) } : {}),
              });
      connecting.then(
        (socket) => {
          if (signal.aborted) socket.terminate();
        },
        () => {},
      );
      return raceAbort(connecting, signal);
    };
    const socket =
      address.kind === "unix"
        ? await dialBusyListener(address.path, dial, signal, options.timeoutMs, this.logger)
        : await dial();
    // With a handshake handler installed, TLS writes made before the handshake are lost (BUN-NOTES).
    if (this.#handshake) {
      this.#socket = socket;
      await this.#handshake.promise;
    }
    return socket;
  }

  #listen(address: ResolvedAddress, tls: TlsSetting | undefined): void {
    this.#tls = tls;
    this.#acceptsPeers = true;
    this.#peerArrived = Promise.withResolvers<Socket<unknown>>();
    this.#peerArrived.promise.catch(() => {});
    this.#handshake = tls ? Promise.withResolvers<void>() : undefined;
    this.#handshake?.promise.catch(() => {});
    const handlers = this.#handlers((socket) => {
      if (this.#socket !== undefined || this.#peerArrived === undefined) {
        socket.terminate();
        return;
      }
      this.#socket = socket;
      this.#stopListening();
      this.#peerArrived.resolve(socket);
    });
    const tlsOption = tls ? { tls: tls as TLSOptions | boolean } : {};
    if (address.kind === "unix") {
      this.#server = Bun.listen({ unix: address.path, socket: handlers, ...tlsOption });
      this.#serverPath = address.path.startsWith("\0") ? undefined : address.path;
      this.#listeningAddress = address;
    } else if (address.kind === "inproc") {
      if (tls) throw new TypeError("TLS needs a tcp: address");
      this.#server = listenInProcess({ name: address.name, socket: handlers });
      this.#listeningAddress = address;
    } else {
      const server = Bun.listen({
        hostname: address.host,
        port: address.port,
        socket: handlers,
        ...tlsOption,
      });
      this.#server = server;
      this.#listeningAddress = { kind: "tcp", host: server.hostname, port: server.port };
    }
  }

  #stopListening(): void {
    this.#server?.stop(false);
    this.#server = undefined;
    this.#listeningAddress = undefined;
    if (this.#serverPath !== undefined) {
      rmSync(this.#serverPath, { force: true });
      this.#serverPath = undefined;
    }
  }

  #adopt(socket: Socket<unknown>): void {
    this.#socket = socket;
    this.#writer = new SocketWriter(socket);
    this.#socketClosed = Promise.withResolvers<void>();
    this.#socketHasClosed = false;
  }

  #onData(chunk: Uint8Array): void {
    if (this.#state !== Runstate.RUNNING && this.#state !== Runstate.CONNECTING) return;
    try {
      this.#decoder.decode(chunk, this.#onFrame);
    } catch (error) {
      this.#fail(
        error instanceof ProtocolError
          ? error
          : new ProtocolError("Failed to decode inbound message", { cause: error }),
      );
    }
  }

  #onFrame = (frame: Uint8Array): void => {
    // A failure while handling an earlier frame of the same chunk ends delivery.
    if (this.#state !== Runstate.RUNNING && this.#state !== Runstate.CONNECTING) return;
    const message = this.decodeMessage(frame);
    if (this.logger.enabled) this.logger.debug("<-- %o", message);
    this.#options.onInbound?.(message);
    if (this.#sessionEstablished) {
      this.#deliver(message);
    } else if (this.#recvWaiter) {
      const waiter = this.#recvWaiter;
      this.#recvWaiter = undefined;
      waiter.resolve(message);
    } else {
      this.#preSessionMessages.push(message);
    }
  };

  #deliver(message: T): void {
    try {
      this.onMessage(message);
    } catch (error) {
      this.#fail(error);
    }
  }

  #onSocketClosed(error: Error | undefined): void {
    this.#socketClosed?.resolve();
    this.#socketHasClosed = true;
    if (this.#state !== Runstate.RUNNING && this.#state !== Runstate.CONNECTING) return;
    const rest = this.#decoder.end();
    if (rest !== undefined) {
      try {
        this.#onFrame(rest);
      } catch (decodeError) {
        this.#fail(
          new ProtocolError("Failed to decode the final message before EOF", { cause: decodeError }),
        );
        return;
      }
    }
    if (this.#state !== Runstate.RUNNING && this.#state !== Runstate.CONNECTING) return;
    if (error) {
      this.#fail(new ConnectionClosedError(`Connection reset: ${error.message}`, { cause: error }));
    } else if (this.#state === Runstate.CONNECTING) {
      this.#fail(new ConnectionClosedError());
    } else {
      this.#endRunningSession(this.peerClosedError());
    }
  }

  /** The session broke. While connecting, the set-up fails; while running, the session ends on the error path. */
  #fail(error: unknown): void {
    if (this.#state === Runstate.CONNECTING) {
      const attempt = this.#attempt;
      if (attempt !== undefined) {
        attempt.failedWith ??= { error };
        attempt.failure.reject(error);
      }
      this.#recvWaiter?.reject(error);
      this.#recvWaiter = undefined;
      return;
    }
    if (this.#state === Runstate.RUNNING) this.#endRunningSession(error);
  }

  #endRunningSession(error: unknown): void {
    if (error !== undefined && this.#sessionError === undefined) {
      this.#sessionError = error;
      this.#sessionErrorReported = false;
    }
    if (this.logger.enabled)
      this.logger.debug(`Session ended: ${error === undefined ? "peer closed" : String(error)}`);
    this.#setState(Runstate.DISCONNECTING);
    this.#writer?.drop();
    this.#socket?.terminate();
    this.#notifySessionEnd(error);
  }

  #notifySessionEnd(error: unknown): void {
    try {
      this.onSessionEnd(error);
    } catch (hookError) {
      this.logger.error(`onSessionEnd threw: ${String(hookError)}`);
    }
  }

  async #disconnect(): Promise<void> {
    switch (this.#state) {
      case Runstate.IDLE:
        this.#setState(Runstate.DISCONNECTING);
        await this.#transition(Runstate.IDLE);
        return;
      case Runstate.CONNECTING: {
        // Either connect()/accept() is under way (it rolls itself back once aborted), or a server listens with no
        // accept() yet. The aborted call rejects with this ConnectError; disconnect() itself succeeds.
        const phase = this.#socket === undefined ? "connection" : "session";
        this.#attempt?.controller.abort(
          new ConnectError(
            `Failed to establish ${phase}`,
            new Error("disconnect() was called while connecting"),
          ),
        );
        await this.#attemptRunning;
        // The aborted attempt usually rolled back already; a bare listener did not.
        if ((this.#state as Runstate) !== Runstate.IDLE) await this.#teardown();
        return;
      }
      case Runstate.RUNNING:
        this.#setState(Runstate.DISCONNECTING);
        await this.#closeGracefully();
        this.#notifySessionEnd(undefined);
        break;
      case Runstate.DISCONNECTING:
        break;
    }
    await this.#teardown();
    if (!this.#sessionErrorReported) {
      this.#sessionErrorReported = true;
      throw this.#sessionError;
    }
  }

  async #closeGracefully(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    // A grace period is a timer and a race: wait only for what is not done yet. Most closes have nothing queued,
    // and an in-process socket has closed by the time end() returns.
    const writer = this.#writer;
    if (
      writer !== undefined &&
      !writer.isFlushed &&
      !(await settlesWithin(writer.flushed(), CLOSE_GRACE_MS))
    ) {
      socket.terminate();
      return;
    }
    socket.end();
    const closed = this.#socketClosed;
    if (
      closed !== undefined &&
      !this.#socketHasClosed &&
      !(await settlesWithin(closed.promise, CLOSE_GRACE_MS))
    )
      socket.terminate();
  }

  /** Releases every resource and returns to IDLE (through DISCONNECTING if needed). */
  async #teardown(): Promise<void> {
    if (this.#state === Runstate.CONNECTING || this.#state === Runstate.RUNNING) {
      await this.#transition(Runstate.DISCONNECTING);
    }
    this.#peerArrived?.reject(new ConnectionClosedError("Server stopped before a peer connected"));
    this.#peerArrived = undefined;
    this.#stopListening();
    this.#handshake?.reject(new ConnectionClosedError("Closed during the TLS handshake"));
    this.#handshake = undefined;
    this.#writer?.drop();
    const socket = this.#socket;
    if (socket) {
      socket.terminate();
      const closed = this.#socketClosed;
      if (closed !== undefined && !this.#socketHasClosed) await settlesWithin(closed.promise, CLOSE_GRACE_MS);
    }
    this.#socket = undefined;
    this.#writer = undefined;
    this.#socketClosed = undefined;
    this.#attempt = undefined;
    this.#recvWaiter = undefined;
    this.#preSessionMessages = [];
    this.#decoder.reset();
    this.#sessionEstablished = false;
    if (this.#state === Runstate.DISCONNECTING) await this.#transition(Runstate.IDLE);
  }
}

/**
 * Bun treats a TLS object without a key it recognises (`{}`, `{ requestCert: false }`) as plain TCP: the handshake
 * this side waits for would never come. Naming the verification explicitly makes any object mean TLS, verified
 * unless the caller said `rejectUnauthorized: false`.
 */
function clientTls(tls: TlsSetting): TLSOptions | boolean {
  if (typeof tls !== "object") return tls;
  return { ...tls, rejectUnauthorized: tls.rejectUnauthorized !== false };
}

/**
 * Dials a unix socket, retrying while it refuses although its file exists: QEMU's monitor and qemu-ga queue only
 * two clients while they serve one, and refuse the next at once (EAGAIN, reported as ECONNREFUSED). Retries stop
 * short of `timeoutMs` (or after {@link DEFAULT_BUSY_WAIT_MS}) so the caller hears "busy", not a bare timeout.
 */
async function dialBusyListener(
  path: string,
  dial: () => Promise<Socket<unknown>>,
  signal: AbortSignal,
  timeoutMs: number | undefined,
  logger: Logger,
): Promise<Socket<unknown>> {
  const started = performance.now();
  // Leave the attempt's own timer a margin, so this gives up first, with the reason.
  const budget =
    timeoutMs === undefined ? DEFAULT_BUSY_WAIT_MS : Math.max(0, timeoutMs - Math.min(50, timeoutMs / 4));
  let pause = 2;
  for (;;) {
    try {
      return await dial();
    } catch (error) {
      if (signal.aborted || (error as { code?: unknown }).code !== "ECONNREFUSED" || !isSocketFile(path))
        throw error;
      const waited = performance.now() - started;
      if (waited + pause > budget) throw new ListenerBusyError(path, waited, { cause: error });
      if (logger.enabled)
        logger.debug(`${path} refused the connection (a busy listener?); retrying in ${pause} ms`);
      await sleep(pause, signal);
      pause = Math.min(pause * 2, 50);
    }
  }
}

function isSocketFile(path: string): boolean {
  if (path.startsWith("\0")) return false; // an abstract socket has no file to tell busy from absent
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}
