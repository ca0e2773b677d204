/**
 * `createFakeQemu()`: a fake QEMU a test can script. It assembles three parts that know little of each other:
 * the monitor (`monitor/`: sockets, QEMU's parser, the in-band queue, faults), the dispatcher (`dispatch/`:
 * QEMU's request checks, negotiation, the command table with `fake.handle()` overrides, argument checks) and
 * the VM model (`vm/`: runstate, identity, … one subsystem per file, on a clock the test may drive).
 */
import { Deadline, raceAbort, socketInode, TimeoutError, unixSocketPaths } from "@qmpkit/protocol-core";
import type { HandlerContext } from "./dispatch/context.ts";
import { Dispatcher } from "./dispatch/dispatcher.ts";
import { QAPISchema } from "./dispatch/schema-args.ts";
import { FakeQemuError } from "./errors.ts";
import { MonitorServer, type MonitorServerHooks, type MonitorServerOptions } from "./monitor/server.ts";
import type { MonitorService } from "./monitor/session.ts";
import type {
  CommandContextBase,
  FakeClientInfo,
  FakeError,
  FakeQemuOptions,
  Fault,
  HandleOptions,
  JsonObject,
  ReceivedMessage,
} from "./types.ts";
import type { CommandLineDrive } from "./vm/block/drives.ts";
import { type FakeClock, ManualClock, RealClock } from "./vm/clock.ts";
import type { Guest } from "./vm/guest.ts";
import { loadMachine, type Machine, schemaSource } from "./vm/machine.ts";
import type { Migration } from "./vm/migration.ts";
import { Runstate } from "./vm/runstate.ts";
import { CHARDEVS, DRIVES, GUEST, MIGRATION } from "./vm/subsystems.ts";
import { Vm } from "./vm/vm.ts";

/** QEMU 7.2 as recorded (the version CI installs). */
export const QEMU_7_2_VERSION = {
  qemu: { micro: 22, minor: 2, major: 7 },
  package: "Debian 1:7.2+dfsg-7+deb12u18+b3",
} as const;

/** What a command handler receives besides the arguments. */
export interface CommandContext extends CommandContextBase {
  /** The fake serving this command. */
  readonly fake: FakeQemu;
}

/**
 * Handles one command: returns the `return` value (undefined means `{}`), or a promise of it; throws
 * `QMPCommandError` (or calls `ctx.fail`) for an error reply; any other exception becomes a `GenericError` reply
 * and an entry in `fake.errors`.
 */
export type CommandHandler = (args: JsonObject, ctx: CommandContext) => unknown;

interface Waiter {
  command: string;
  count: number;
  resolve: (entry: ReceivedMessage) => void;
  reject: (reason: unknown) => void;
}

/** @internal How a fake is put together: the machine, and optionally another service than QMP dispatch. */
export interface FakeQemuParts {
  /**
   * The machine profile; its schema is used unless the options say otherwise (read from its recording's text
   * when it has one, which is what `schema` holds parsed).
   */
  readonly profile: Machine;
  /** Serves the sessions instead of the QMP dispatcher (transcript replay). */
  readonly service?: (fake: FakeQemu) => MonitorService;
}

/**
 * A fake QEMU. Create it with {@link createFakeQemu}.
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
  /** The clock the VM runs on: `await fake.clock.advance(ms)` when created with `clock: "manual"`. */
  readonly clock: FakeClock;
  /** The machine the fake stands in for. */
  readonly machine: Machine["name"];

  readonly #options: FakeQemuOptions;
  readonly #server: MonitorServer;
  /** Monitors opened with {@link FakeQemu.addMonitor}, after the first. */
  readonly #moreServers: MonitorServer[] = [];
  readonly #service: MonitorService;
  #nextClientId = 1;
  readonly #serverHooks: MonitorServerHooks;
  readonly #dispatcher: Dispatcher;
  readonly #vm: Vm;
  readonly #injected: Fault[] = [];
  readonly #exited = Promise.withResolvers<void>();
  #waiters: Waiter[] = [];

  /** @internal Use {@link createFakeQemu}. */
  constructor(options: FakeQemuOptions, parts: FakeQemuParts) {
    this.#options = options;
    this.machine = parts.profile.name;
    this.clock = options.clock === "manual" ? new ManualClock() : new RealClock();
    const version = options.version ?? parts.profile.version ?? QEMU_7_2_VERSION;
    const reportError = (client: number | undefined, command: string | undefined, message: string) => {
      this.errors.push({ client: client ?? 0, command, message, at: Date.now() });
    };
    this.#vm = new Vm({
      machine: parts.profile,
      clock: this.clock,
      config: {
        status: options.incoming === undefined ? (options.status ?? "running") : "inmigrate",
        autostart: options.status === undefined || options.status === "running",
        accelerator: options.accelerator,
        version,
        name: options.name,
        uuid: options.uuid,
        noShutdown: options.noShutdown,
        noReboot: options.noReboot,
        incoming: options.incoming,
      },
      host: {
        emit: (event, data) => this.emit(event, data),
        quit: (client) => this.#quit(client),
        exit: () => this.#exit(),
        reportError,
        warn: (message) => options.onWarning?.(message),
        // QEMU names the chardev of each `-qmp` compat_monitorN and lists it with its listening address.
        monitors: () =>
          this.#servers().map((server, index) => ({
            label: server.label ?? `compat_monitor${index}`,
            filename: monitorFilename(server.address),
          })),
      },
    });
    const { schema } = options;
    this.#dispatcher = new Dispatcher({
      // On the first command, not before the greeting. The recorded schema stays QEMU's text, whose entries are
      // parsed as commands reach them: a session that runs one command never parses the rest.
      schema:
        schema === false ? () => undefined : () => new QAPISchema(schema ?? schemaSource(parts.profile)),
      // Read when a client asks for query-commands, not before the greeting (the list is parsed on first read).
      get recordedCommands() {
        return parts.profile.commands;
      },
      vm: this.#vm,
      offered: options.capabilities ?? ["oob"],
      version,
      benchCommands: options.benchCommands === true,
      fake: this,
      emit: (event, data) => this.emit(event, data),
      reportError,
    });
    this.#service = parts.service?.(this) ?? this.#dispatcher;
    this.#serverHooks = {
      record: (entry) => this.#record(entry),
      reportError,
      faultsForNext: () => [...(options.faults ?? []), ...this.#injected.splice(0)],
      stopped: () => {
        if (this.#waiters.length > 0) this.#rejectWaiters();
      },
      // One numbering across all monitors: a client number names one connection to this VM.
      nextClientId: () => this.#nextClientId++,
    };
    this.#server = new MonitorServer(options, this.#service, this.#serverHooks);
    this.address = this.#server.address;
    this.path = this.#server.path;
    this.port = this.#server.port;
  }

  /** The VM's run state as `query-status` reports it; settable. */
  get status(): string {
    return this.#vm.get(Runstate).status;
  }

  set status(value: string) {
    this.#vm.get(Runstate).status = value;
  }

  /**
   * The guest OS, played by the test: `fake.guest.reboot()`, `.shutdown()`, `.panic()`, `.answerPowerdown()`.
   * Real QEMU with no guest OS does none of these by itself.
   */
  get guest(): Guest {
    return this.#vm.subsystem(GUEST);
  }

  /**
   * The outgoing migration as a test steers it: `fake.migration.failAt(40)` makes migrations fail part-way, as
   * QEMU's do when the destination stops reading. `.status` is the migration's state (`none` before any).
   */
  get migration(): Migration {
    return this.#vm.subsystem(MIGRATION);
  }

  /** The clients connected now. */
  get clients(): FakeClientInfo[] {
    return this.#servers().flatMap((server) =>
      server.sessions.map((s) => ({ id: s.id, phase: s.phase, oob: s.oob })),
    );
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
    // The dispatcher's context carries this fake as `fake`: the one place its type is narrowed back.
    this.#dispatcher.handle(
      command,
      (args, ctx: HandlerContext) => handler(args, ctx as CommandContext),
      options,
    );
    return this;
  }

  /** Sends an event to every client in command mode, now. */
  emit(event: string, data?: JsonObject): void {
    for (const server of this.#servers()) server.broadcast(event, data);
  }

  /**
   * Opens another monitor on the same VM, as QEMU started with several `-qmp`/`-mon` options: its clients see the
   * same state and get every event. Resolves with its address (`unix:…`, `tcp:…` or `fd:N`).
   */
  addMonitor(
    options: Pick<
      MonitorServerOptions,
      "path" | "tcp" | "inProcess" | "hostname" | "port" | "fd" | "multiClient" | "monitorLabel"
    >,
  ): string {
    const server = new MonitorServer(
      {
        ...options,
        ...(this.#options.maxLineBytes === undefined ? {} : { maxLineBytes: this.#options.maxLineBytes }),
      },
      this.#service,
      this.#serverHooks,
    );
    this.#moreServers.push(server);
    return server.address;
  }

  /**
   * @internal For the emulator: runs a VM command with no client, as QEMU creates what its command line lists
   * (`-device` → `device_add`, `-blockdev` → `blockdev-add`, …) before any monitor client is served, so those
   * exist in the model exactly as hotplugged ones do. Resolves false when no subsystem implements `command`.
   */
  async runAtStart(command: string, args: JsonObject): Promise<boolean> {
    const handler = this.#vm.commandHandler(command);
    if (handler === undefined) return false;
    await handler(args, {
      client: 0,
      command,
      signal: new AbortController().signal,
      afterReply: (fn) => fn(),
    });
    return true;
  }

  /**
   * @internal For the emulator: the command line's `-drive` (no QMP command creates one), with QEMU's errors as
   * {@link QMPCommandError}s, as {@link runAtStart}'s commands throw them.
   */
  addDriveAtStart(options: Readonly<Record<string, string>>): CommandLineDrive {
    return this.#vm.subsystem(DRIVES).fromCommandLine(options);
  }

  #servers(): MonitorServer[] {
    return [this.#server, ...this.#moreServers];
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
    if (this.#server.stopped) return Promise.reject(new FakeQemuError("The fake QEMU is closed"));
    const timeoutMs = options.timeoutMs ?? 5000;
    const arrived = Promise.withResolvers<ReceivedMessage>();
    const waiter: Waiter = { command, count: count - seen.length, ...arrived };
    this.#waiters.push(waiter);
    const deadline = new Deadline({
      timeoutMs,
      signal: options.signal,
      onTimeout: () => new TimeoutError(`Fake QEMU received no ${command} within ${timeoutMs} ms`),
    });
    return raceAbort(arrived.promise, deadline.signal).finally(() => {
      deadline.clear();
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
    });
  }

  /** Stops listening, closes every connection, removes the socket and its temp dir. Idempotent. */
  close(): Promise<void> {
    this.#vm.built(CHARDEVS)?.closeAll();
    // Jobs and migrations still scheduled on the clock stop with the VM.
    this.clock.stop();
    const closing =
      this.#moreServers.length === 0
        ? this.#server.close()
        : Promise.all(this.#servers().map((server) => server.close()));
    return closing.then(() => this.#exited.resolve());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Behaves like a QEMU killed with SIGKILL: every connection is cut at once (unwritten replies are lost), the
   * socket stops accepting, and nothing more is answered.
   */
  async kill(): Promise<void> {
    await Promise.all(this.#servers().map((server) => server.kill()));
    this.#exited.resolve();
  }

  #quit(client: number): void {
    if ((this.#options.onQuit ?? "exit") === "exit") {
      this.#exit();
      return;
    }
    for (const session of this.#server.sessions) if (session.id === client) void session.close();
  }

  #exit(): void {
    // QEMU exits: the listener goes first so nobody new connects, then every monitor closes.
    for (const server of this.#servers()) server.stopListening();
    void this.close();
  }

  #rejectWaiters(): void {
    // Nothing more can arrive: waiting callers learn it now instead of at their timeout.
    for (const waiter of [...this.#waiters]) {
      waiter.reject(new FakeQemuError(`The fake QEMU closed before it received ${waiter.command}`));
    }
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
}

function commandOf(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const m = message as Record<string, unknown>;
  const name = m.execute ?? m["exec-oob"];
  return typeof name === "string" ? name : undefined;
}

/**
 * Starts a fake QEMU and resolves once it accepts connections.
 *
 * @example
 * import { createFakeQemu } from "@qmpkit/testkit";
 * import { connect } from "@qmpkit/qmp";
 * await using fake = await createFakeQemu();
 * const client = await connect(fake.address);
 * console.log(await client.execute("query-status")); // { status: "running", singlestep: false, running: true }
 */
export async function createFakeQemu(options: FakeQemuOptions = {}): Promise<FakeQemu> {
  const profile = await loadMachine(options.machine ?? "none", options.qemuVersion ?? "7.2");
  const fake = new FakeQemu(options, { profile });
  try {
    for (const device of options.devices ?? []) await fake.runAtStart("device_add", device as JsonObject);
  } catch (error) {
    await fake.close();
    throw error;
  }
  return fake;
}

/** A monitor's listening address as QEMU's `query-chardev` prints it for a connected server socket. */
function monitorFilename(address: string): string {
  if (address.startsWith("unix:")) return `unix:${address.slice(5)},server=on`;
  if (address.startsWith("fd:")) {
    // QEMU names an inherited socket by the address it is bound to, as getsockname() tells.
    const inode = socketInode("self", Number(address.slice(3)));
    const path = inode === undefined ? undefined : unixSocketPaths().get(inode);
    if (path !== undefined) return `unix:${path},server=on`;
  }
  if (address.startsWith("tcp:")) return `tcp:${address.slice(4)},server=on`;
  return address;
}
