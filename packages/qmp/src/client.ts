import {
  AsyncProtocol,
  ConnectError,
  ConnectionClosedError,
  type ConnectOptions,
  type ProtocolOptions,
  Runstate,
  resolveAddress,
  type SocketAddress,
  StateError,
  TimeoutError,
} from "@qmpkit/protocol-core";
import {
  BadReplyError,
  ExecInterruptedError,
  ExecuteError,
  NegotiationError,
  QMPValidationError,
  type SentCommand,
  ServerParseError,
  UsageError,
} from "./errors.ts";
import {
  EventListener,
  type GetOptions,
  kAttach,
  kDeliver,
  kDetach,
  kEnd,
  type ListenerOwner,
  type ListenOptions,
} from "./events.ts";
import { FdPassingError, sendFdOverSocket } from "./fd-passing.ts";
import {
  type CommandMessage,
  decodeQmpMessage,
  type EventLike,
  type Greeting,
  isErrorBody,
  isObject,
  parseGreeting,
  previewJson,
  type QmpEvent,
  type QmpMessage,
  type Reply,
  toEvent,
} from "./messages.ts";
import { Pending, PendingTable, type ReplyMode } from "./pending.ts";
import type { Commands as Qemu72Commands, Events as Qemu72Events } from "./qapi/qemu-7.2.ts";
import { indexSchema, parseSchema, type SchemaEntry, type SchemaIndex } from "./qapi/schema.ts";
import type { CommandMapOf, ExecuteParams, TypedEvent } from "./qapi/typed.ts";
import { formatValidationProblems, validateArguments } from "./qapi/validate.ts";

/**
 * Every id the client generates starts with this (`@1`, `@2`, …); caller-chosen ids may not. One character,
 * because QEMU reads its monitor one byte per main-loop turn: each byte of a request costs about 3.3 µs there, and
 * `"__qmpkit:N"` made every round trip to a real QEMU ~30 µs (≈25%) slower than a numeric id (bench/README.md).
 */
export const RESERVED_ID_PREFIX = "@";

/** @default 10 000 ms */
export const DEFAULT_GREETING_TIMEOUT_MS = 10_000;
/** @default 10 000 ms */
export const DEFAULT_NEGOTIATION_TIMEOUT_MS = 10_000;

/** How a session is set up after the transport connects. */
export interface SessionOptions {
  /** Read and check the greeting first. Turn off only for raw sessions. @default true */
  awaitGreeting?: boolean | undefined;
  /** Send `qmp_capabilities` (leaving QEMU's negotiation mode). @default true */
  negotiate?: boolean | undefined;
  /** Enable out-of-band execution when the server offers it. @default true */
  oob?: boolean | undefined;
  /**
   * Fail when no greeting arrives within this time (a SIGSTOPped QEMU, or a second client on QEMU's single-client
   * monitor, never greets). @default 10000
   */
  greetingTimeoutMs?: number | undefined;
  /** Fail when `qmp_capabilities` is not answered within this time. @default 10000 */
  negotiationTimeoutMs?: number | undefined;
}

/** Options of a {@link QMPClient}. Session options given here are defaults for every `connect()`/`accept()`. */
export interface QMPClientOptions extends ProtocolOptions<QmpMessage>, SessionOptions {
  /**
   * Check every command's arguments against the live QAPI schema before sending (fetched with `query-qmp-schema`
   * once per session, on first use); a mismatch rejects with {@link QMPValidationError} and nothing is sent.
   * @default false
   */
  validate?: boolean | undefined;
  /**
   * Return integers beyond 2^53 (QEMU's uint64 sizes, offsets and counters) as exact `bigint`s instead of the
   * nearest `number`. Replies and events then hold `number | bigint` where such values occur; the generated types
   * still say `number`. @default false
   */
  bigints?: boolean | undefined;
}

/** Retrying a connection while QEMU starts (the socket does not exist yet, or nobody listens yet). */
export interface RetryOptions {
  /** The most connection attempts, the first included. Only `ENOENT` and `ECONNREFUSED` are retried. */
  attempts: number;
  /** The pause between two attempts. */
  delayMs: number;
}

/** Options of {@link QMPClient.connect}. `timeoutMs` bounds the whole call, retries included. */
export interface QMPConnectOptions extends ConnectOptions, SessionOptions {
  /** Retry `ENOENT`/`ECONNREFUSED` failures. @default no retry */
  retry?: RetryOptions | undefined;
}

/** Options of {@link QMPClient.accept} / {@link QMPClient.startServerAndAccept}. */
export interface QMPAcceptOptions extends Omit<ConnectOptions, "tls">, SessionOptions {}

/** Per-command options. */
export interface ExecuteOptions {
  /** Rejects at once with `signal.reason` when aborted; the late reply is dropped. */
  signal?: AbortSignal | undefined;
  /** Rejects with a {@link TimeoutError} (`QMP_ERR_TIMEOUT`) when no reply came in time. @default no limit */
  timeoutMs?: number | undefined;
  /** Send as `exec-oob` (out-of-band). Requires OOB to have been negotiated. @default false */
  oob?: boolean | undefined;
}

/** Options of {@link QMPClient.waitForEvent}. */
export interface WaitForEventOptions<Ev extends EventLike = QmpEvent> extends GetOptions {
  /** Only an event for which this returns true. */
  filter?: ((event: Ev) => boolean) | undefined;
}

/** Everything {@link connect} accepts: client options plus connect options. */
export interface ConnectFunctionOptions extends QMPClientOptions, QMPConnectOptions {}

type ResolvedSession = Required<{ [K in keyof SessionOptions]-?: Exclude<SessionOptions[K], undefined> }>;

const SESSION_KEYS = [
  "awaitGreeting",
  "negotiate",
  "oob",
  "greetingTimeoutMs",
  "negotiationTimeoutMs",
] as const;

/**
 * A QMP client: connects to QEMU (or accepts QEMU's connection), negotiates, executes commands with typed
 * arguments and results, and delivers events. Generic over a generated command map `C` and event map `E`;
 * the defaults are the shipped QEMU 7.2 types.
 *
 * @example
 * const client = new QMPClient({ name: "vm1" });
 * await client.connect("/run/vm1/qmp.sock");
 * const status = await client.execute("query-status"); // typed: { running, singlestep, status }
 * await client.disconnect();
 */
export class QMPClient<C extends CommandMapOf<C> = Qemu72Commands, E = Qemu72Events>
  extends AsyncProtocol<QmpMessage>
  implements ListenerOwner
{
  /** The default listener: every event, buffered (up to 1024, dropping the oldest). */
  readonly events: EventListener<QmpEvent>;

  readonly #defaults: SessionOptions;
  #session: ResolvedSession;
  readonly #listeners = new Set<EventListener<never>>();
  /** waitForEvent() listeners: they fail when the session ends rather than wait forever. */
  readonly #oneShots = new Set<EventListener<never>>();
  readonly #pending = new PendingTable(RESERVED_ID_PREFIX);
  #lastId = 0;
  #greeting: Greeting | undefined;
  #capabilities: readonly string[] = [];
  /** Whether the current transport is a unix socket (the only kind that can carry descriptors). */
  #unixTransport = false;
  /** A `quit` was sent and has not failed: the peer's close is then expected. */
  #quitSent = false;

  #validate: boolean;
  readonly #bigints: boolean;
  #fixedSchema: SchemaIndex | undefined;
  #sessionSchema: Promise<SchemaIndex> | undefined;

  constructor(options: QMPClientOptions = {}) {
    super(options);
    this.#defaults = pickSession(options);
    this.#session = resolveSession(this.#defaults, {});
    this.#validate = options.validate === true;
    this.#bigints = options.bigints === true;
    this.events = new EventListener<QmpEvent>();
    this.addListener(this.events);
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
    return this.#pending.size;
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
    this.#unixTransport = isUnixAddress(address);
    const core = this.#beginAttempt(rest);
    if (retry === undefined) {
      await super.connect(address, core);
      return;
    }
    await this.#connectWithRetry(address, core, retry);
  }

  /** Starts listening on `address` for QEMU to connect (QEMU run with `-qmp unix:PATH`); follow with `accept()`. */
  override async startServer(
    address: SocketAddress,
    options: Pick<ConnectOptions, "tls" | "maxMessageBytes"> = {},
  ): Promise<void> {
    this.#unixTransport = isUnixAddress(address);
    await super.startServer(address, options);
  }

  /** Waits for QEMU to connect to the server of `startServer()` (QEMU run with `-qmp unix:PATH`), then negotiates. */
  override async accept(options: QMPAcceptOptions = {}): Promise<void> {
    await super.accept(this.#beginAttempt(options));
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
    if (this.runstate === Runstate.RUNNING) this.#interruptAll(undefined);
    return super.disconnect();
  }

  #beginAttempt<O extends SessionOptions>(options: O): Omit<O, keyof SessionOptions> {
    this.#session = resolveSession(this.#defaults, options);
    const core: Record<string, unknown> = { ...(options as SessionOptions) };
    for (const key of SESSION_KEYS) delete core[key];
    return core as Omit<O, keyof SessionOptions>;
  }

  async #connectWithRetry(
    address: SocketAddress,
    options: ConnectOptions,
    retry: RetryOptions,
  ): Promise<void> {
    const attempts = Math.max(1, Math.floor(retry.attempts));
    const deadline = options.timeoutMs === undefined ? undefined : performance.now() + options.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
      try {
        await super.connect(
          address,
          remaining === undefined ? options : { ...options, timeoutMs: remaining },
        );
        return;
      } catch (error) {
        const retriable =
          error instanceof ConnectError && (error.code === "ENOENT" || error.code === "ECONNREFUSED");
        if (!retriable || attempt >= attempts) throw error;
        if (this.logger.enabled)
          this.logger.debug(`Connect attempt ${attempt}/${attempts} failed (${error.code}); retrying`);
        await pause(retry.delayMs, options.signal, deadline, options.timeoutMs);
      }
    }
  }

  protected override async establishSession(signal: AbortSignal): Promise<void> {
    const session = this.#session;
    this.#greeting = undefined;
    this.#capabilities = [];
    this.#quitSent = false;
    if (session.awaitGreeting) {
      const deadline = performance.now() + session.greetingTimeoutMs;
      const first = await this.#recvBefore(deadline, signal, () => {
        return new TimeoutError(
          `No QMP greeting within ${session.greetingTimeoutMs} ms (is another client connected, or QEMU stopped?)`,
          "QMP_ERR_GREETING_TIMEOUT",
        );
      });
      this.#greeting = parseGreeting(first);
    }
    if (session.negotiate) await this.#negotiate(session, signal);
  }

  async #negotiate(session: ResolvedSession, signal: AbortSignal): Promise<void> {
    const enable = session.oob && this.#greeting?.QMP.capabilities.includes("oob") === true ? ["oob"] : [];
    const id = this.#newId();
    const message: QmpMessage =
      enable.length === 0
        ? { execute: "qmp_capabilities", id }
        : { execute: "qmp_capabilities", arguments: { enable }, id };
    this.send(message);
    const deadline = performance.now() + session.negotiationTimeoutMs;
    const onTimeout = (): Error =>
      new TimeoutError(
        `qmp_capabilities got no reply within ${session.negotiationTimeoutMs} ms`,
        "QMP_ERR_NEGOTIATION_TIMEOUT",
      );
    while (true) {
      const reply = await this.#recvBefore(deadline, signal, onTimeout);
      if (typeof reply.event === "string") {
        this.#dispatchEvent(reply);
        continue;
      }
      if (reply.QMP !== undefined && this.#greeting === undefined) {
        this.#greeting = parseGreeting(reply);
        continue;
      }
      if (reply.id !== id) {
        if (reply.id === undefined && isErrorBody(reply.error)) {
          throw new NegotiationError(`QMP negotiation failed: ${reply.error.desc}`, {
            errorClass: reply.error.class,
          });
        }
        if (this.logger.enabled) this.logger.warn("Dropped an unexpected message during negotiation");
        continue;
      }
      if ("return" in reply) {
        this.#capabilities = enable;
        return;
      }
      if (isErrorBody(reply.error)) {
        throw new NegotiationError(`QMP negotiation failed: ${reply.error.desc}`, {
          errorClass: reply.error.class,
        });
      }
      throw new NegotiationError(
        `QMP negotiation failed: the reply has neither "return" nor "error": ${previewJson(reply)}`,
      );
    }
  }

  /** `recv()` bounded by a deadline and the attempt's signal; the timer never outlives the wait. */
  #recvBefore(deadline: number, signal: AbortSignal, onTimeout: () => Error): Promise<QmpMessage> {
    const received = this.recv();
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      };
      const onAbort = (): void => {
        finish();
        reject(signal.reason);
      };
      const timer = setTimeout(
        () => {
          finish();
          reject(onTimeout());
        },
        Math.max(0, deadline - performance.now()),
      );
      signal.addEventListener("abort", onAbort, { once: true });
      received.then(
        (message) => {
          finish();
          resolve(message);
        },
        (error: unknown) => {
          finish();
          reject(error);
        },
      );
    });
  }

  // ---- the wire ------------------------------------------------------------------------------------------------

  protected decodeMessage(frame: Uint8Array): QmpMessage {
    return decodeQmpMessage(frame, this.#bigints);
  }

  protected encodeMessage(message: QmpMessage): string {
    return `${JSON.stringify(message)}\n`;
  }

  protected onMessage(message: QmpMessage): void {
    // Events are handed to listeners synchronously, before any later reply resolves its command.
    if (message.event !== undefined) {
      this.#dispatchEvent(message);
      return;
    }
    const id = message.id;
    if (typeof id === "string") {
      const pending = this.#pending.take(id);
      if (pending !== undefined) {
        this.#settle(pending, message);
      } else if (!this.#pending.forgetAbandoned(id) && this.logger.enabled) {
        // qmp-spec: "Clients should drop all the responses that have an unknown id field."
        this.logger.warn(`Dropped a reply with unknown id ${JSON.stringify(id)}`);
      } else if (this.logger.enabled) {
        this.logger.debug(`Dropped the late reply of abandoned command ${JSON.stringify(id)}`);
      }
      return;
    }
    if (id === undefined) {
      if (message.QMP !== undefined && this.#greeting === undefined) {
        // A raw session (awaitGreeting: false) reads the greeting like any other message.
        this.#greeting = parseGreeting(message);
        return;
      }
      const idless = this.#pending.take(undefined);
      if (idless !== undefined) {
        this.#settle(idless, message);
        return;
      }
      if (message.error !== undefined) {
        // QEMU could not parse something it was sent, so it could not read its id: the reply belongs to no one
        // and the stream's state is unknown. Ending the session is the only safe recovery (qmp-spec, "Errors").
        const desc = isErrorBody(message.error) ? message.error.desc : previewJson(message.error);
        throw new ServerParseError(`QEMU reported an error for input it could not parse: ${desc}`, message);
      }
    }
    if (this.logger.enabled) this.logger.warn(`Dropped an unexpected message: ${previewJson(message)}`);
  }

  #settle(pending: Pending, reply: QmpMessage): void {
    if (pending.mode === "raw") {
      if (reply.error !== undefined && isQuit(pending.message)) this.#quitSent = false;
      pending.resolve(reply);
      return;
    }
    if ("return" in reply) {
      pending.resolve(reply.return);
      return;
    }
    const error = reply.error;
    if (isErrorBody(error)) {
      if (isQuit(pending.message)) this.#quitSent = false;
      pending.reject(new ExecuteError(reply, error, pending.message));
      return;
    }
    pending.reject(
      new BadReplyError(
        error === undefined
          ? `The reply to "${pending.command}" has neither "return" nor "error"`
          : `The reply to "${pending.command}" has a malformed "error" member`,
        reply,
        pending.message,
      ),
    );
  }

  protected override peerClosedError(): unknown {
    // After `quit`, QEMU closes the connection: that is the expected end, not an error to rethrow.
    return this.#quitSent ? undefined : super.peerClosedError();
  }

  protected override onSessionEnd(error: unknown): void {
    this.#interruptAll(error);
    if (this.#fixedSchema === undefined) this.#sessionSchema = undefined;
  }

  #interruptAll(error: unknown): void {
    // A clean close after `quit` was sent means QEMU quit as asked, even if the close overtook the reply.
    const quitting = this.#quitSent && error === undefined;
    this.#quitSent = false;
    for (const pending of this.#pending.drain()) {
      if (quitting && pending.mode === "value" && isQuit(pending.message)) pending.resolve({});
      else
        pending.reject(
          new ExecInterruptedError(pending.command, error === undefined ? {} : { cause: error }),
        );
    }
    const oneShots = [...this.#oneShots];
    this.#oneShots.clear();
    for (const listener of oneShots) {
      const names = listener.names === undefined ? "event" : [...listener.names].join("/");
      listener[kEnd](
        new ConnectionClosedError(
          `The session ended before ${names} arrived`,
          error === undefined ? {} : { cause: error },
        ),
      );
    }
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
    return this.#execute(command, params[0] as Record<string, unknown> | undefined, params[1]) as Promise<
      C[K]["returns"]
    >;
  }

  /** Executes any command by name, unchecked by the type system: the escape hatch for commands `C` lacks. */
  executeUntyped(
    command: string,
    args?: Record<string, unknown>,
    options?: ExecuteOptions,
  ): Promise<unknown> {
    return this.#execute(command, args, options);
  }

  /**
   * Executes a prebuilt message (`execute` or `exec-oob`, optional `arguments`, optional caller-chosen `id`) and
   * resolves with its `return` value. The caller's object is not modified.
   */
  executeMsg(message: CommandMessage, options?: ExecuteOptions): Promise<unknown> {
    return this.#executePrebuilt(message, options, "value");
  }

  /**
   * Sends a prebuilt message and resolves with the whole reply, errors not interpreted. A caller-chosen string
   * `id` is used as is (not one in the reserved `@` prefix, nor one in flight); without an id, the message
   * is sent id-less (one at a time). `validate` does not apply.
   */
  executeRaw(message: CommandMessage, options?: ExecuteOptions): Promise<Reply> {
    return this.#executePrebuilt(message, options, "raw") as Promise<Reply>;
  }

  #execute(
    command: string,
    args: Record<string, unknown> | undefined,
    options?: ExecuteOptions,
  ): Promise<unknown> {
    if (this.#validate || this.#fixedSchema !== undefined) {
      return this.#validated(command, args, () => this.#executeChecked(command, args, options));
    }
    return this.#executeChecked(command, args, options);
  }

  #executeChecked(
    command: string,
    args: Record<string, unknown> | undefined,
    options: ExecuteOptions | undefined,
  ): Promise<unknown> {
    const seq = ++this.#lastId;
    const id = RESERVED_ID_PREFIX + seq;
    let message: QmpMessage;
    if (options?.oob === true) {
      message =
        args === undefined ? { "exec-oob": command, id } : { "exec-oob": command, arguments: args, id };
    } else {
      // Literal keys, not a computed one: this is the per-command hot path.
      message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
    }
    return this.#send(message, id, seq, options, "value");
  }

  #executePrebuilt(
    message: CommandMessage,
    options: ExecuteOptions | undefined,
    mode: ReplyMode,
  ): Promise<unknown> {
    const problem = checkMessage(message);
    if (problem !== undefined) return Promise.reject(new UsageError(problem, "QMP_ERR_INVALID_MESSAGE"));
    const callerId = (message as { id?: string }).id;
    if (callerId !== undefined) {
      if (callerId.startsWith(RESERVED_ID_PREFIX)) {
        return Promise.reject(
          new UsageError(
            `The id ${JSON.stringify(callerId)} uses the prefix "${RESERVED_ID_PREFIX}", reserved for generated ids`,
            "QMP_ERR_RESERVED_ID",
          ),
        );
      }
      if (this.#pending.has(callerId)) {
        return Promise.reject(
          new UsageError(
            `The id ${JSON.stringify(callerId)} is already in flight; ids must be unique among pending commands`,
            "QMP_ERR_DUPLICATE_ID",
          ),
        );
      }
    } else if (mode === "raw" && this.#pending.hasIdless) {
      return Promise.reject(
        new UsageError(
          "An id-less command is already in flight: its reply could not be told apart; give this one an id",
          "QMP_ERR_DUPLICATE_ID",
        ),
      );
    }
    // A copy by spread: own keys only (a wire "__proto__" stays data), and the caller's object is untouched.
    const copy: QmpMessage = { ...message };
    if (options?.oob === true && "execute" in copy) {
      copy["exec-oob"] = copy.execute;
      delete copy.execute;
    }
    let id = callerId;
    let seq = -1;
    if (id === undefined && mode === "value") {
      seq = ++this.#lastId;
      id = RESERVED_ID_PREFIX + seq;
      copy.id = id;
    }
    const name = (copy.execute ?? copy["exec-oob"]) as string;
    const send = (): Promise<unknown> => this.#send(copy, id, seq, options, mode);
    if (mode === "value" && (this.#validate || this.#fixedSchema !== undefined)) {
      return this.#validated(name, copy.arguments as Record<string, unknown> | undefined, send);
    }
    return send();
  }

  #send(
    message: QmpMessage,
    id: string | undefined,
    seq: number,
    options: ExecuteOptions | undefined,
    mode: ReplyMode,
  ): Promise<unknown> {
    if (this.runstate !== Runstate.RUNNING) return Promise.reject(this.#notRunning());
    if (message["exec-oob"] !== undefined && !this.#capabilities.includes("oob")) {
      return Promise.reject(
        new UsageError(
          "Out-of-band execution was not negotiated (the server did not offer it, or oob: false was given)",
          "QMP_ERR_OOB_NOT_ENABLED",
        ),
      );
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const pending = new Pending(this.#pending, id, seq, message as SentCommand, mode);
    try {
      this.send(message);
    } catch (error) {
      return Promise.reject(error);
    }
    if (isQuit(message)) this.#quitSent = true;
    this.#pending.add(pending);
    if (signal !== undefined || options?.timeoutMs !== undefined) pending.arm(options?.timeoutMs, signal);
    return pending.promise;
  }

  #newId(): string {
    return RESERVED_ID_PREFIX + ++this.#lastId;
  }

  #notRunning(): StateError {
    return new StateError(
      `QMPClient is not connected (runstate ${this.runstate}); call connect() and wait for it first.`,
      this.runstate,
      Runstate.RUNNING,
    );
  }

  // ---- validation ----------------------------------------------------------------------------------------------

  /**
   * Validates every later command's arguments against `schema` (the `query-qmp-schema` reply, or an index of it)
   * instead of fetching the live schema.
   */
  validateWith(schema: readonly SchemaEntry[] | SchemaIndex | unknown): void {
    const index = isSchemaIndex(schema) ? schema : indexSchema(parseSchema(schema));
    this.#fixedSchema = index;
    this.#sessionSchema = Promise.resolve(index);
    this.#validate = true;
  }

  async #validated(
    command: string,
    args: Record<string, unknown> | undefined,
    send: () => Promise<unknown>,
  ): Promise<unknown> {
    const index = await this.#schema();
    const problems = validateArguments(index, command, args);
    if (problems.length > 0) {
      throw new QMPValidationError(formatValidationProblems(command, problems), command, problems);
    }
    return send();
  }

  #schema(): Promise<SchemaIndex> {
    if (this.#sessionSchema === undefined) {
      const seq = ++this.#lastId;
      const id = RESERVED_ID_PREFIX + seq;
      const loading = this.#send({ execute: "query-qmp-schema", id }, id, seq, undefined, "value").then(
        (value) => indexSchema(parseSchema(value)),
      );
      this.#sessionSchema = loading;
      // A failed load is retried by the next command rather than cached.
      loading.catch(() => {
        if (this.#sessionSchema === loading) this.#sessionSchema = undefined;
      });
    }
    return this.#sessionSchema;
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
  listen(options?: ListenOptions<QmpEvent>): EventListener<QmpEvent>;
  // biome-ignore lint/suspicious/noExplicitAny: the implementation serves both overloads' event types.
  listen(options: ListenOptions<any> = {}): EventListener<any> {
    const listener = new EventListener(options);
    this.addListener(listener);
    return listener;
  }

  /** Registers an existing listener (re-opening it if it was closed). */
  addListener(listener: EventListener<never> | EventListener<QmpEvent>): void {
    const l = listener as EventListener<never>;
    this.#listeners.add(l);
    l[kAttach](this);
  }

  /** Unregisters and closes a listener: its waiting `get()` calls reject and its iteration ends. */
  removeListener(listener: EventListener<never> | EventListener<QmpEvent>): void {
    const l = listener as EventListener<never>;
    if (!this.#listeners.delete(l)) return;
    l[kDetach]();
    l.close();
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
  waitForEvent(name: string, options?: WaitForEventOptions<QmpEvent>): Promise<QmpEvent>;
  async waitForEvent(name: string, options: WaitForEventOptions<never> = {}): Promise<EventLike> {
    const listener = new EventListener<never>({ names: [name], filter: options.filter, highWaterMark: 1 });
    this.addListener(listener);
    this.#oneShots.add(listener);
    try {
      return await listener.get({ signal: options.signal, timeoutMs: options.timeoutMs });
    } finally {
      this.#oneShots.delete(listener);
      this.removeListener(listener);
    }
  }

  #dispatchEvent(message: QmpMessage): void {
    const event = toEvent(message);
    if (event === undefined) return;
    for (const listener of this.#listeners) listener[kDeliver](event);
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
    if (!this.#unixTransport) {
      throw new FdPassingError("sendFd() needs a unix socket: file descriptors cannot travel over TCP");
    }
    // The descriptor travels with a byte of the stream: everything queued before must reach the kernel first.
    await this.writesFlushed();
    const socketFd = this.socketFd;
    if (socketFd === undefined) throw this.#notRunning();
    await sendFdOverSocket(socketFd, fd, () => this.writesFlushed());
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

function pickSession(options: SessionOptions): SessionOptions {
  const picked: SessionOptions = {};
  for (const key of SESSION_KEYS) {
    const value = options[key];
    if (value !== undefined) (picked as Record<string, unknown>)[key] = value;
  }
  return picked;
}

function resolveSession(defaults: SessionOptions, overrides: SessionOptions): ResolvedSession {
  return {
    awaitGreeting: overrides.awaitGreeting ?? defaults.awaitGreeting ?? true,
    negotiate: overrides.negotiate ?? defaults.negotiate ?? true,
    oob: overrides.oob ?? defaults.oob ?? true,
    greetingTimeoutMs:
      overrides.greetingTimeoutMs ?? defaults.greetingTimeoutMs ?? DEFAULT_GREETING_TIMEOUT_MS,
    negotiationTimeoutMs:
      overrides.negotiationTimeoutMs ?? defaults.negotiationTimeoutMs ?? DEFAULT_NEGOTIATION_TIMEOUT_MS,
  };
}

function isUnixAddress(address: SocketAddress): boolean {
  try {
    return resolveAddress(address).kind === "unix";
  } catch {
    return false;
  }
}

function isQuit(message: SentCommand | QmpMessage): boolean {
  return message.execute === "quit" || message["exec-oob"] === "quit";
}

function isSchemaIndex(value: unknown): value is SchemaIndex {
  return isObject(value) && value.entries instanceof Map && value.commands instanceof Map;
}

/** What is wrong with a prebuilt message, or undefined when it is usable. */
function checkMessage(message: unknown): string | undefined {
  if (!isObject(message)) return "A command message must be an object";
  const hasExecute = typeof message.execute === "string";
  const hasOob = typeof message["exec-oob"] === "string";
  if (hasExecute === hasOob)
    return 'A command message needs exactly one of "execute" or "exec-oob" (a string)';
  if (message.arguments !== undefined && !isObject(message.arguments)) return '"arguments" must be an object';
  if (message.id !== undefined && typeof message.id !== "string") return '"id" must be a string';
  return undefined;
}

/** Waits `ms` between retries, cut short by `signal` (rejects with its reason) or the overall deadline. */
function pause(
  ms: number,
  signal: AbortSignal | undefined,
  deadline: number | undefined,
  timeoutMs: number | undefined,
): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const left = deadline === undefined ? ms : Math.min(ms, deadline - performance.now());
  if (left <= 0 && deadline !== undefined) {
    return Promise.reject(
      new TimeoutError(`Connection attempt timed out after ${timeoutMs} ms`, "QMP_ERR_CONNECT_TIMEOUT"),
    );
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, left);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
