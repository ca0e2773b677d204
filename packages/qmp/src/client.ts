import {
  AsyncProtocol,
  type ConnectOptions,
  Runstate,
  resolveAddress,
  type SocketAddress,
  StateError,
} from "@qmpkit/protocol-core";
import { Dispatch } from "./dispatch.ts";
import type { EventHub } from "./event-hub.ts";
import type { EventListener, ListenOptions } from "./events.ts";
import {
  type CommandMessage,
  decodeQMPMessage,
  type EventLike,
  type Greeting,
  parseGreeting,
  type QMPEvent,
  type QMPMessage,
  type Reply,
} from "./messages.ts";
import { establish } from "./negotiation.ts";
import {
  type ConnectFunctionOptions,
  type ExecuteOptions,
  pickSession,
  type QMPAcceptOptions,
  type QMPClientOptions,
  type QMPConnectOptions,
  type ResolvedSession,
  resolveSession,
  type SessionOptions,
  type WaitForEventOptions,
  withoutSession,
} from "./options.ts";
import type { Commands as Qemu72Commands, Events as Qemu72Events } from "./qapi/qemu-7.2.ts";
import type { SchemaEntry, SchemaIndex } from "./qapi/schema.ts";
import type { CommandMapOf, ExecuteParams, TypedEvent } from "./qapi/typed.ts";

/** Events, retry, fd passing and validation: evaluated on first use (see lazy-client.ts). */
const lazy = () => require("./lazy-client.ts") as typeof import("./lazy-client.ts");

/**
 * A QMP client: connects to QEMU (or accepts QEMU's connection), negotiates, executes commands with typed
 * arguments and results, and delivers events. Generic over a generated command map `C` and event map `E`;
 * the defaults are the shipped QEMU 7.2 types.
 *
 * The class wires the pieces together: options (`options.ts`), greeting and negotiation (`negotiation.ts`),
 * connect retry (`connect-retry.ts`), the command path and reply matching (`dispatch.ts`, `pending.ts`), the
 * event registry (`event-hub.ts`), the validation schema (`schema-cache.ts`) and fd passing (`fd-passing.ts`).
 *
 * @example
 * const client = new QMPClient({ name: "vm1" });
 * await client.connect("/run/vm1/qmp.sock");
 * const status = await client.execute("query-status"); // typed: { running, singlestep, status }
 * await client.disconnect();
 */
export class QMPClient<
  C extends CommandMapOf<C> = Qemu72Commands,
  E = Qemu72Events,
> extends AsyncProtocol<QMPMessage> {
  readonly #defaults: SessionOptions;
  #session: ResolvedSession;
  /**
   * Made with the first event or listener: a client that runs a command and leaves never needs one. The default
   * listener it holds is made then too, ahead of any other, so it still buffers every event from the start and is
   * served first.
   */
  #hub: EventHub | undefined;
  readonly #dispatch: Dispatch;
  readonly #bigints: boolean;
  #greeting: Greeting | undefined;
  #capabilities: readonly string[] = [];
  /** The address of the current (or last) transport: sendFd() needs a unix socket. */
  #address: SocketAddress | undefined;

  constructor(options: QMPClientOptions = {}) {
    super(options);
    this.#defaults = pickSession(options);
    this.#session = resolveSession(this.#defaults, {});
    this.#bigints = options.bigints === true;
    const client = this;
    this.#dispatch = new Dispatch({
      send: (message) => void this.sendInSession(message),
      get capabilities() {
        return client.#capabilities;
      },
      logger: this.logger,
    });
    // Made when validation is first asked for (here, or by validateWith()): most clients never validate.
    if (options.validate === true) this.#dispatch.schema = new (lazy().SchemaCache)();
  }

  /** The default listener: every event, buffered (up to 1024, dropping the oldest). */
  get events(): EventListener<QMPEvent> {
    return this.#events().defaultListener;
  }

  #events(): EventHub {
    this.#hub ??= new (lazy().EventHub)();
    return this.#hub;
  }

  /** The server's greeting of the current (or last) session; undefined before one was read. */
  get greeting(): Greeting | undefined {
    return this.#greeting;
  }

  /** The capabilities enabled by negotiation (`["oob"]` when out-of-band execution is on). */
  get capabilities(): readonly string[] {
    return this.#capabilities;
  }

  /** Commands currently waiting for a reply. */
  get pendingCount(): number {
    return this.#dispatch.pendingCount;
  }

  protected override get loggerPrefix(): string {
    return "qmpkit.qmp";
  }

  // ---- connecting ----------------------------------------------------------------------------------------------

  /**
   * Connects to QEMU's QMP socket, reads the greeting and negotiates. With `retry`, a socket that does not exist
   * yet (`ENOENT`) or that nobody listens on yet (`ECONNREFUSED`) is tried again, `delayMs` apart.
   *
   * @example
   * await client.connect("/tmp/qmp.sock", { retry: { attempts: 50, delayMs: 100 }, timeoutMs: 10_000 });
   */
  override async connect(address: SocketAddress, options: QMPConnectOptions = {}): Promise<void> {
    const { retry, ...rest } = options;
    this.#address = address;
    this.#session = resolveSession(this.#defaults, rest);
    const core = withoutSession(rest);
    if (retry === undefined) return super.connect(address, core);
    await lazy().connectWithRetry((once) => super.connect(address, once), core, retry, this.logger);
  }

  /** Starts listening on `address` for QEMU to connect (QEMU run with `-qmp unix:PATH`); follow with `accept()`. */
  override async startServer(
    address: SocketAddress,
    options: Pick<ConnectOptions, "tls" | "maxMessageBytes"> = {},
  ): Promise<void> {
    this.#address = address;
    await super.startServer(address, options);
  }

  /** Waits for QEMU to connect to the server of `startServer()` (QEMU run with `-qmp unix:PATH`), then negotiates. */
  override async accept(options: QMPAcceptOptions = {}): Promise<void> {
    this.#session = resolveSession(this.#defaults, options);
    await super.accept(withoutSession(options));
  }

  /**
   * Listens on `address`, accepts exactly one peer (QEMU started with `-qmp unix:PATH` connects to us), then
   * reads its greeting and negotiates.
   */
  override async startServerAndAccept(
    address: SocketAddress,
    options: ConnectOptions & SessionOptions = {},
  ): Promise<void> {
    await super.startServerAndAccept(address, options);
  }

  /** Ends the session; commands still waiting reject at once with {@link ExecInterruptedError}. */
  override disconnect(): Promise<void> {
    if (this.runstate === Runstate.RUNNING) this.#sessionEnded(undefined);
    return super.disconnect();
  }

  protected override async establishSession(signal: AbortSignal): Promise<void> {
    this.#greeting = undefined;
    this.#capabilities = [];
    const wire = {
      recv: () => this.recv(),
      send: (message: QMPMessage) => void this.send(message),
      onEvent: (message: QMPMessage) => this.#events().deliver(message),
      logger: this.logger,
    };
    const established = await establish(wire, this.#session, signal);
    this.#greeting = established.greeting;
    this.#capabilities = established.capabilities;
  }

  // ---- the wire ------------------------------------------------------------------------------------------------

  protected decodeMessage(frame: Uint8Array): QMPMessage {
    return decodeQMPMessage(frame, this.#bigints);
  }

  protected encodeMessage(message: QMPMessage): string {
    // No newline: QEMU's JSON streamer ends a message at its closing brace, and reads its monitor one byte per
    // main-loop turn, so a trailing byte is pure latency (qemu.qmp sends none either).
    return JSON.stringify(message);
  }

  protected onMessage(message: QMPMessage): void {
    // Events are handed to listeners synchronously, before any later reply resolves its command.
    if (message.event !== undefined) this.#events().deliver(message);
    else if (message.QMP !== undefined) this.#onGreeting(message);
    else this.#dispatch.route(message);
  }

  /** A greeting is never a reply, not even to a command sent without an id (see negotiation.ts on duplicates). */
  #onGreeting(message: QMPMessage): void {
    if (this.#greeting === undefined) this.#greeting = parseGreeting(message);
    else if (this.logger.enabled) this.logger.debug("Dropped a second greeting");
  }

  protected override peerClosedError(): unknown {
    // After `quit`, QEMU closes the connection: that is the expected end, not an error to rethrow.
    return this.#dispatch.quitSent ? undefined : super.peerClosedError();
  }

  protected override onSessionEnd(error: unknown): void {
    this.#sessionEnded(error);
    this.#dispatch.schema?.forgetSession();
  }

  #sessionEnded(error: unknown): void {
    this.#dispatch.interruptAll(error);
    this.#hub?.endOneShots(error);
  }

  // ---- commands ------------------------------------------------------------------------------------------------

  /**
   * Executes a command and resolves with its `return` value (`{}` for commands that return nothing), typed by
   * the command map. Rejects with {@link ExecuteError} when QEMU answers with an error.
   *
   * @example
   * const status = await client.execute("query-status");
   * const text = await client.execute("human-monitor-command", { "command-line": "info status" }, { timeoutMs: 5000 });
   */
  execute<K extends keyof C & string>(
    command: K,
    ...params: ExecuteParams<C[K]["args"], ExecuteOptions>
  ): Promise<C[K]["returns"]> {
    const args = params[0] as Record<string, unknown> | undefined;
    return this.#dispatch.run(command, args, params[1]) as Promise<C[K]["returns"]>;
  }

  /** Executes any command by name, unchecked by the type system: the escape hatch for commands `C` lacks. */
  executeUntyped(
    command: string,
    args?: Record<string, unknown>,
    options?: ExecuteOptions,
  ): Promise<unknown> {
    return this.#dispatch.run(command, args, options);
  }

  /**
   * Executes a prebuilt message (`execute` or `exec-oob`, optional `arguments`, optional caller-chosen `id`) and
   * resolves with its `return` value. The caller's object is not modified.
   */
  executeMsg(message: CommandMessage, options?: ExecuteOptions): Promise<unknown> {
    return this.#dispatch.runMessage(message, options, "value");
  }

  /**
   * Sends a prebuilt message and resolves with the whole reply, errors not interpreted. A caller-chosen string
   * `id` is used as is (not one in the reserved `@` prefix, nor one in flight); a message without an id gets a
   * reply without one. `validate` does not apply.
   */
  executeRaw(message: CommandMessage, options?: ExecuteOptions): Promise<Reply> {
    return this.#dispatch.runMessage(message, options, "raw") as Promise<Reply>;
  }

  /**
   * Validates every later command's arguments against `schema` (the `query-qmp-schema` reply, or an index of it)
   * instead of fetching the live schema.
   */
  validateWith(schema: readonly SchemaEntry[] | SchemaIndex | unknown): void {
    // Kept only once fix() accepted the schema: a rejected one leaves the client validating as before, or not at all.
    const cache = this.#dispatch.schema ?? new (lazy().SchemaCache)();
    cache.fix(schema);
    this.#dispatch.schema = cache;
  }

  // ---- events --------------------------------------------------------------------------------------------------

  /**
   * A new listener, registered at once. With `names` from the event map, its events' `data` is typed. Use it with
   * `using` (or call `close()`) to unregister.
   *
   * @example
   * using shutdown = client.listen({ names: ["SHUTDOWN"] });
   * await client.execute("quit");
   * const { data } = await shutdown.get(); // data.guest: boolean, data.reason: ShutdownCause
   */
  listen<K extends keyof E & string>(
    options: ListenOptions<TypedEvent<E, K>> & { names: readonly K[] },
  ): EventListener<TypedEvent<E, K>>;
  listen(options?: ListenOptions<QMPEvent>): EventListener<QMPEvent>;
  // biome-ignore lint/suspicious/noExplicitAny: the implementation serves both overloads' event types.
  listen(options: ListenOptions<any> = {}): EventListener<any> {
    const listener = new (lazy().EventListener)(options);
    this.addListener(listener);
    return listener;
  }

  /** Registers an existing listener (re-opening it if it was closed). */
  addListener(listener: EventListener<never> | EventListener<QMPEvent>): void {
    this.#events().add(listener as EventListener<never>);
  }

  /** Unregisters and closes a listener: its waiting `get()` calls reject and its iteration ends. */
  removeListener(listener: EventListener<never> | EventListener<QMPEvent>): void {
    this.#hub?.removeListener(listener as EventListener<never>);
  }

  /**
   * Resolves with the next event named `name` (matching `filter`). The listener is registered when this is
   * called, so an event caused by a command sent afterwards cannot be missed — call it before `execute`. Rejects
   * on `signal`, on `timeoutMs`, and with `ConnectionClosedError` if the session ends first.
   *
   * @example
   * const stopped = client.waitForEvent("STOP", { timeoutMs: 5000 });
   * await client.execute("stop");
   * await stopped;
   */
  waitForEvent<K extends keyof E & string>(
    name: K,
    options?: WaitForEventOptions<TypedEvent<E, K>>,
  ): Promise<TypedEvent<E, K>>;
  waitForEvent(name: string, options?: WaitForEventOptions<QMPEvent>): Promise<QMPEvent>;
  waitForEvent(name: string, options: WaitForEventOptions<never> = {}): Promise<EventLike> {
    return this.#events().waitFor(name, options);
  }

  // ---- file descriptors ----------------------------------------------------------------------------------------

  /**
   * Passes an open file descriptor to QEMU over the unix socket (SCM_RIGHTS); name it next with `getfd`
   * (`{ fdname }`) or hand it to `add-fd`. Unix sockets only; resolves once the descriptor was sent.
   *
   * @example
   * await client.sendFd(fd);
   * await client.execute("getfd", { fdname: "disk0" });
   */
  async sendFd(fd: number): Promise<void> {
    if (this.runstate !== Runstate.RUNNING) throw this.#notRunning();
    if (this.#address === undefined || !isUnixAddress(this.#address)) {
      throw new (lazy().FdPassingError)(
        "sendFd() needs a unix socket: file descriptors cannot travel over TCP",
      );
    }
    // The descriptor travels with a byte of the stream: everything queued before must reach the kernel first.
    await this.writesFlushed();
    const socketFd = this.socketFd;
    if (socketFd === undefined) throw this.#notRunning();
    await lazy().sendFdOverSocket(socketFd, fd, () => this.writesFlushed());
  }

  #notRunning(): StateError {
    return new StateError(
      `QMPClient is not connected (runstate ${this.runstate}); call connect() and wait for it first.`,
      this.runstate,
      Runstate.RUNNING,
    );
  }
}

/**
 * Creates a {@link QMPClient}, connects and negotiates; the one-call way to start.
 *
 * @example
 * import { connect } from "@qmpkit/qmp";
 * await using client = await connect("/tmp/qmp.sock", { retry: { attempts: 50, delayMs: 100 } });
 * console.log(await client.execute("query-status"));
 */
export async function connect<C extends CommandMapOf<C> = Qemu72Commands, E = Qemu72Events>(
  address: SocketAddress,
  options: ConnectFunctionOptions = {},
): Promise<QMPClient<C, E>> {
  const { signal, timeoutMs, tls, retry, ...clientOptions } = options;
  const client = new QMPClient<C, E>(clientOptions);
  const connectOptions: QMPConnectOptions = {};
  if (signal !== undefined) connectOptions.signal = signal;
  if (timeoutMs !== undefined) connectOptions.timeoutMs = timeoutMs;
  if (tls !== undefined) connectOptions.tls = tls;
  if (retry !== undefined) connectOptions.retry = retry;
  await client.connect(address, connectOptions);
  return client;
}

function isUnixAddress(address: SocketAddress): boolean {
  try {
    return resolveAddress(address).kind === "unix";
  } catch {
    return false;
  }
}
