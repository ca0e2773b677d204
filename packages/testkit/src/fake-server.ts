/**
 * `createFakeQemu()`: a QMP server on `Bun.listen` that behaves like QEMU 7.2 by default and lets a test script
 * commands, inject events and faults, and assert on what it received.
 */
import { chmodSync, lstatSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TimeoutError } from "@qmpkit/protocol-core";
import type { Socket, SocketListener } from "bun";
import { Connection, type Interceptor, type ResolvedCommand, type ServerCore } from "./connection.ts";
import { FakeQemuError } from "./errors.ts";
import { BENCH_COMMANDS, BUILTIN_COMMANDS, type VmState } from "./fake-commands.ts";
import { encodeQemuJson, RawJson } from "./qjson.ts";
import { loadRecordedCommandList, loadRecordedSchema } from "./recorded.ts";
import { QapiSchema, type SchemaEntry } from "./schema-args.ts";
import type {
  CommandHandler,
  FakeClientInfo,
  FakeError,
  FakeQemuOptions,
  Fault,
  HandleOptions,
  JsonObject,
  ReceivedMessage,
} from "./types.ts";

/** QEMU 7.2 as recorded (the version CI installs). */
export const QEMU_7_2_VERSION = {
  qemu: { micro: 22, minor: 2, major: 7 },
  package: "Debian 1:7.2+dfsg-7+deb12u18+b3",
} as const;

interface Waiter {
  command: string;
  count: number;
  resolve: (entry: ReceivedMessage) => void;
  reject: (reason: unknown) => void;
}

/**
 * A fake QEMU monitor. Create it with {@link createFakeQemu}.
 *
 * @example
 * await using fake = await createFakeQemu();
 * fake.handle("query-name", () => ({ name: "vm1" }));
 * const client = await connect(fake.address);
 */
export class FakeQemu implements AsyncDisposable {
  /** Where to connect: `unix:/…/qmp.sock` or `tcp:127.0.0.1:PORT`, accepted by `@qmpkit/qmp`'s `connect`. */
  readonly address: string;
  /** The unix socket path, when listening on one. */
  readonly path: string | undefined;
  /** The TCP port, when listening on TCP. */
  readonly port: number | undefined;
  /** Every message each client sent, in arrival order (unless `record: false`). */
  readonly received: ReceivedMessage[] = [];
  /** Problems a test author should know about: unimplemented commands, handlers that threw, replay mismatches. */
  readonly errors: FakeError[] = [];

  readonly #options: FakeQemuOptions;
  readonly #server: SocketListener<Connection | undefined>;
  readonly #dir: string | undefined;
  readonly #handlers = new Map<string, ResolvedCommand>();
  readonly #schema: QapiSchema | undefined;
  readonly #connections: Connection[] = [];
  readonly #injected: Fault[] = [];
  readonly #vm: VmState;
  readonly #exited = Promise.withResolvers<void>();
  #waiters: Waiter[] = [];
  #nextClient = 1;
  #closing: Promise<void> | undefined;
  #schemaJson: RawJson | undefined;
  #stopped = false;
  readonly #interceptor: Interceptor | undefined;
  readonly #recordedCommands: readonly string[];

  /** @internal Use {@link createFakeQemu}. */
  constructor(
    options: FakeQemuOptions,
    schema: readonly SchemaEntry[] | undefined,
    interceptor?: Interceptor,
    recordedCommands: readonly string[] = [],
  ) {
    this.#recordedCommands = recordedCommands;
    this.#options = options;
    this.#interceptor = interceptor;
    this.#schema = schema === undefined ? undefined : new QapiSchema(schema);
    const core = this.#makeCore();
    this.#vm = {
      status: options.status ?? "running",
      version: options.version ?? QEMU_7_2_VERSION,
      name: options.name,
      offered: options.capabilities ?? ["oob"],
      core,
      schemaJson: () => {
        this.#schemaJson ??= new RawJson(encodeQemuJson(this.#schema?.entries ?? []));
        return this.#schemaJson;
      },
      commandList: () => this.#commandList(),
    };

    const handlers = {
      open: (socket: Socket<Connection | undefined>) => this.#onOpen(socket, core),
      data: (socket: Socket<Connection | undefined>, chunk: Buffer) => socket.data?.onData(chunk),
      drain: (socket: Socket<Connection | undefined>) => socket.data?.onDrain(),
      close: (socket: Socket<Connection | undefined>) => socket.data?.onClosed(),
      error: (socket: Socket<Connection | undefined>) => socket.data?.onClosed(),
    };
    if (options.tcp) {
      const hostname = options.hostname ?? "127.0.0.1";
      const server = Bun.listen<Connection | undefined>({
        hostname,
        port: options.port ?? 0,
        socket: handlers,
      });
      this.#server = server;
      this.port = server.port;
      this.path = undefined;
      this.#dir = undefined;
      this.address = `tcp:${hostname.includes(":") ? `[${hostname}]` : hostname}:${this.port}`;
    } else {
      let path = options.path;
      if (path === undefined) {
        // mkdtemp makes the directory 0700: nobody else can reach the socket, whatever its own mode.
        this.#dir = mkdtempSync(join(tmpdir(), "qmpkit-fake-"));
        path = join(this.#dir, "qmp.sock");
      } else {
        this.#dir = undefined;
        removeStaleSocket(path);
      }
      try {
        this.#server = Bun.listen<Connection | undefined>({ unix: path, socket: handlers });
        chmodSync(path, 0o600);
      } catch (error) {
        if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
        throw new FakeQemuError(`Cannot listen on ${path}`, { cause: error });
      }
      this.path = path;
      this.port = undefined;
      this.address = `unix:${path}`;
    }
  }

  /** The VM's run state as `query-status` reports it; settable. */
  get status(): string {
    return this.#vm.status;
  }

  set status(value: string) {
    this.#vm.status = value;
  }

  /** The clients connected now. */
  get clients(): FakeClientInfo[] {
    return this.#connections.map((c) => ({ id: c.id, phase: c.phase, oob: c.oob }));
  }

  /** Resolves once the fake has stopped (after `close()`, or after `quit` with `onQuit: "exit"`). */
  get exited(): Promise<void> {
    return this.#exited.promise;
  }

  /**
   * Adds or overrides a command. The handler gets the arguments (already checked against the schema when the
   * schema knows the command) and a {@link CommandContext}.
   *
   * @example
   * fake.handle("query-status", () => ({ status: "paused", singlestep: false, running: false }));
   * fake.handle("slow", async (_args, ctx) => { await Bun.sleep(100); ctx.emit("DONE"); return 42; });
   */
  handle(command: string, handler: CommandHandler, options: HandleOptions = {}): this {
    const known = this.#schema?.command(command);
    this.#handlers.set(command, {
      handler,
      allowOob: options.allowOob ?? known?.["allow-oob"] === true,
      validate: options.validate ?? known !== undefined,
    });
    return this;
  }

  /** Sends an event to every client in command mode, now. */
  emit(event: string, data?: JsonObject): void {
    for (const conn of this.#connections) conn.sendEvent(event, data);
  }

  /** Applies `fault` to the next connection only (on top of the options' `faults`). */
  inject(fault: Fault): this {
    this.#injected.push(fault);
    return this;
  }

  /**
   * Resolves with the `count`-th message (default the first) any client sent for `command` (`execute` or
   * `exec-oob`), waiting for it if needed; rejects with `TimeoutError` after `timeoutMs`.
   */
  waitFor(
    command: string,
    options: { timeoutMs?: number; count?: number; signal?: AbortSignal } = {},
  ): Promise<ReceivedMessage> {
    const count = options.count ?? 1;
    const seen = this.received.filter((e) => commandOf(e.message) === command);
    const found = seen[count - 1];
    if (found !== undefined) return Promise.resolve(found);
    if (this.#stopped) return Promise.reject(new FakeQemuError("The fake QEMU is closed"));
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise<ReceivedMessage>((resolve, reject) => {
      const waiter: Waiter = { command, count: count - seen.length, resolve: done, reject: fail };
      const timer = setTimeout(
        () => fail(new TimeoutError(`Fake QEMU received no ${command} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onAbort = () => fail(options.signal?.reason);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
      };
      function done(entry: ReceivedMessage) {
        cleanup();
        resolve(entry);
      }
      function fail(reason: unknown) {
        cleanup();
        reject(reason);
      }
      this.#waiters.push(waiter);
    });
  }

  /** Stops listening, closes every connection, removes the socket and its temp dir. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Behaves like a QEMU killed with SIGKILL: every connection is cut at once (unwritten replies are lost), the
   * socket stops accepting, and nothing more is answered.
   */
  async kill(): Promise<void> {
    this.#stopListening();
    for (const conn of [...this.#connections]) conn.resetNow();
    await this.close();
  }

  async #shutdown(): Promise<void> {
    this.#stopListening();
    await Promise.all(this.#connections.map((c) => c.close(500)));
    for (const conn of [...this.#connections]) conn.resetNow();
    this.#server.stop(true);
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
    this.#exited.resolve();
  }

  #stopListening(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    // stop(false): stop accepting but leave open connections alone; they are closed gracefully (replies already
    // queued, like quit's, still go out) by close().
    this.#server.stop(false);
    if (this.path !== undefined) removeStaleSocket(this.path);
    // Nothing more can arrive: waiting callers learn it now instead of at their timeout.
    for (const waiter of [...this.#waiters]) {
      waiter.reject(new FakeQemuError(`The fake QEMU closed before it received ${waiter.command}`));
    }
  }

  #onOpen(socket: Socket<Connection | undefined>, core: ServerCore): void {
    if (this.#stopped) {
      socket.terminate();
      return;
    }
    const faults = [...(this.#options.faults ?? []), ...this.#injected.splice(0)];
    const conn = new Connection(core, socket as Socket<unknown>, this.#nextClient++, faults);
    socket.data = conn;
    this.#connections.push(conn);
    // A fault may end the connection right here (closeAfterBytes(0)); it then leaves the list at once.
    conn.opened();
    if (conn.ended) return;
    // One client at a time, like QEMU's monitor: later ones are accepted but wait, ungreeted, for their turn.
    const served = this.#connections.filter((c) => c.phase !== "waiting" && c !== conn);
    if (this.#options.multiClient || served.length === 0) void conn.activate();
  }

  #makeCore(): ServerCore {
    const fake = this;
    return {
      fake,
      interceptor: this.#interceptor,
      maxLineBytes: this.#options.maxLineBytes ?? 64 * 1024 * 1024,
      get offered() {
        return fake.#vm.offered;
      },
      greetingText: () => {
        const greeting = { QMP: { version: this.#vm.version, capabilities: [...this.#vm.offered] } };
        return `${encodeQemuJson(greeting)}\r\n`;
      },
      record: (entry) => this.#record(entry),
      resolve: (command) => this.#resolve(command),
      checkArguments: (command, args) => this.#schema?.checkArguments(command, args),
      emitAll: (event, data) => this.emit(event, data),
      reportError: (client, command, message) => {
        this.errors.push({ client, command, message, at: Date.now() });
      },
      connectionClosed: (conn) => this.#connectionClosed(conn),
      quitRequested: (conn) => {
        if ((this.#options.onQuit ?? "exit") === "exit") {
          // QEMU exits: the listener goes first so nobody new connects, then every monitor closes.
          this.#stopListening();
          void this.close();
        } else void conn.close();
      },
    };
  }

  #record(entry: ReceivedMessage): void {
    if (this.#options.record !== false) this.received.push(entry);
    try {
      this.#options.onReceived?.(entry);
    } catch (error) {
      // A throwing observer must not unwind the socket handler that is parsing this client's input.
      this.errors.push({
        client: entry.client,
        command: undefined,
        message: `onReceived threw: ${String(error)}`,
        at: Date.now(),
      });
    }
    if (this.#waiters.length === 0) return;
    const command = commandOf(entry.message);
    if (command === undefined) return;
    for (const waiter of this.#waiters) {
      if (waiter.command === command && --waiter.count === 0) waiter.resolve(entry);
    }
  }

  #resolve(command: string): ResolvedCommand | undefined {
    const custom = this.#handlers.get(command);
    if (custom !== undefined) return custom;
    const known = this.#schema?.command(command);
    const builtin =
      BUILTIN_COMMANDS.get(command) ??
      (this.#options.benchCommands ? BENCH_COMMANDS.get(command) : undefined);
    if (builtin !== undefined) {
      return {
        handler: (args, ctx) => builtin(args, ctx, this.#vm),
        allowOob: known?.["allow-oob"] === true,
        validate: known !== undefined,
      };
    }
    if (known === undefined) return undefined;
    // QEMU has this command, the fake does not emulate it: check the arguments like QEMU, then say so loudly.
    return {
      handler: (_args, ctx) => {
        const message = `qmpkit fake: '${command}' is not implemented; script it with fake.handle('${command}', …)`;
        this.errors.push({ client: ctx.client, command, message, at: Date.now() });
        ctx.fail("GenericError", message);
      },
      allowOob: known["allow-oob"] === true,
      validate: true,
    };
  }

  #commandList(): { name: string }[] {
    const names = new Set<string>();
    for (const name of this.#handlers.keys()) names.add(name);
    if (this.#options.benchCommands) for (const name of BENCH_COMMANDS.keys()) names.add(name);
    const recorded = this.#schema === undefined ? [...BUILTIN_COMMANDS.keys()] : this.#recordedCommands;
    const inSchema = new Set(this.#schema?.commandNames() ?? []);
    for (const name of recorded) if (this.#schema === undefined || inSchema.has(name)) names.add(name);
    for (const name of inSchema) names.add(name);
    return [...names].map((name) => ({ name }));
  }

  #connectionClosed(conn: Connection): void {
    const index = this.#connections.indexOf(conn);
    if (index >= 0) this.#connections.splice(index, 1);
    if (this.#options.multiClient || this.#stopped) return;
    if (this.#connections.some((c) => c.phase !== "waiting")) return;
    const next = this.#connections.find((c) => c.phase === "waiting" && !c.ended);
    if (next !== undefined) void next.activate();
  }
}

function commandOf(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const m = message as Record<string, unknown>;
  const name = m.execute ?? m["exec-oob"];
  return typeof name === "string" ? name : undefined;
}

/** Removes `path` only if it is a socket: never delete a user's regular file. */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Nothing there.
  }
}

/**
 * Starts a fake QEMU monitor and resolves once it accepts connections.
 *
 * @example
 * import { createFakeQemu } from "@qmpkit/testkit";
 * import { connect } from "@qmpkit/qmp";
 * await using fake = await createFakeQemu();
 * const client = await connect(fake.address);
 * console.log(await client.execute("query-status")); // { status: "running", singlestep: false, running: true }
 */
export async function createFakeQemu(options: FakeQemuOptions = {}): Promise<FakeQemu> {
  const schema = options.schema === false ? undefined : (options.schema ?? (await loadRecordedSchema()));
  return new FakeQemu(options, schema, undefined, await loadRecordedCommandList());
}
