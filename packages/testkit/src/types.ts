/**
 * Public types of the fake QEMU: options, handlers and their context, fault hooks, and what the fake records.
 */
import type { SchemaEntry } from "./dispatch/schema-args.ts";
import type { QemuRelease } from "./qemu-10.ts";

/** A JSON object as QMP carries it. */
export type JsonObject = Record<string, unknown>;

/** Options of {@link createFakeQemu}. */
export interface FakeQemuOptions {
  /** Listen on TCP `127.0.0.1:0` instead of a unix socket. @default false */
  tcp?: boolean;
  /**
   * Listen on `inproc:NAME` instead of a socket: only a client in this same process can connect (`@qmpkit/qmp`'s
   * `connect(fake.address)`), and nothing is created on disk. Bytes still go through the fake's parser and write
   * queue as they would on a socket. `true` picks a fresh name. @default false
   */
  inProcess?: boolean | string;
  /**
   * Listen on this unix socket path instead of one in a fresh private temp dir. A stale socket at the path is
   * replaced (as QEMU does); any other existing file is an error. @default a path in a new 0700 temp dir
   */
  path?: string;
  /** With `tcp`, the port to bind (0 picks a free one). @default 0 */
  port?: number;
  /** With `tcp`, the address to bind. @default "127.0.0.1" */
  hostname?: string;
  /**
   * Serve on this already-listening socket (unix or TCP) inherited from the parent, as libvirt hands QEMU its
   * monitor (`-chardev socket,fd=N,server=on`). The fake neither binds nor removes anything then.
   */
  fd?: number;
  /**
   * The label of the monitor's chardev in `query-chardev`: `-chardev socket,id=charmonitor` + `-mon
   * chardev=charmonitor` gives `charmonitor`. @default QEMU's `compat_monitorN` for a `-qmp` monitor
   */
  monitorLabel?: string;
  /**
   * Serve every client at once. QEMU's monitor serves one client at a time: a second client's connection is
   * accepted by the kernel but gets no greeting until the first one leaves, which is what the fake does by
   * default. @default false
   */
  multiClient?: boolean;
  /** The `version` member of the greeting and of `query-version`. @default as recorded from `qemuVersion` */
  version?: { qemu: { major: number; minor: number; micro: number }; package: string };
  /** Capabilities offered in the greeting. @default ["oob"] */
  capabilities?: string[];
  /**
   * The machine to stand in for (`-machine`): `none` answers like QEMU started for a capability probe, `q35` like
   * a PC a VM manager starts. @default "none" (the smallest machine: nothing a test did not ask for)
   */
  machine?: "none" | "q35";
  /**
   * The QEMU generation to answer like: its recorded schema, `query-commands`, greeting and machine profile, and
   * its rules where the model differs by version (10.0's `query-status` has no `singlestep`). @default "7.2"
   */
  qemuVersion?: QemuRelease;
  /**
   * The clock the VM's jobs and migrations run on: `"real"` follows the wall clock, `"manual"` moves only on
   * `await fake.clock.advance(ms)`. @default "real"
   */
  clock?: "real" | "manual";
  /**
   * The run state at start (`query-status`): `"prelaunch"` is QEMU's `-S`. With `incoming` the VM is in
   * `inmigrate` whatever this says, and `"prelaunch"` only keeps it from running once the migration is in (as `-S
   * -incoming` does). @default "running"
   */
  status?: string;
  /** QEMU's `-no-shutdown`: a shutdown (the guest's, or a reset under `noReboot`) pauses the VM. @default false */
  noShutdown?: boolean;
  /** QEMU's `-no-reboot`: every reset request becomes a shutdown. @default false */
  noReboot?: boolean;
  /**
   * Receives QEMU's warnings (what it prints to stderr as `warning: MESSAGE`, e.g. deprecated usage). The drop-in
   * emulator prints them as QEMU does. @default dropped
   */
  onWarning?: (message: string) => void;
  /**
   * The accelerator the VM runs on, as `query-kvm` and HMP `info kvm` report it. The drop-in emulator sets what
   * QEMU would end up with (KVM where `accel=kvm` is asked for and /dev/kvm opens). @default "tcg"
   */
  accelerator?: "tcg" | "kvm";
  /** QEMU's `-incoming`: `"defer"` (or a URI): the VM starts in `inmigrate`. @default none */
  incoming?: string;
  /**
   * QEMU's `-device` options, as its JSON form takes them (`{ driver: "pcie-root-port", id: "rp1", bus: "pcie.0",
   * chassis: 1 }`): created before any client connects, cold-plugged (`hotplugged` false; on pcie.0 they can never
   * be unplugged). A device QEMU would refuse makes `createFakeQemu` reject with QEMU's error. @default none
   */
  devices?: Record<string, unknown>[];
  /** The UUID `query-uuid` reports (QEMU's `-uuid`). @default the all-zero UUID, as QEMU without -uuid */
  uuid?: string;
  /** The VM name `query-name` reports (QEMU's `-name`). @default none (`query-name` returns `{}`) */
  name?: string;
  /**
   * The introspection schema used for `query-qmp-schema`, `query-commands` (with the built-ins) and QEMU-style
   * argument checking; `false` turns schema checks off. @default the schema recorded from QEMU 7.2
   */
  schema?: readonly SchemaEntry[] | false;
  /** Faults applied to every connection, in order. @default [] */
  faults?: Fault[];
  /** Serve the benchmark command `bench-events` (`{"count": N}` → N `BENCH` events, then `{}`). @default false */
  benchCommands?: boolean;
  /**
   * What `quit` does after its reply: `"exit"` closes every connection and stops listening (QEMU exits),
   * `"close-client"` only closes the connection that asked. @default "exit"
   */
  onQuit?: "exit" | "close-client";
  /** Keep every received message in `fake.received`. Turn off for long runs and benchmarks. @default true */
  record?: boolean;
  /** Called for every message received, in order (the CLI prints these). */
  onReceived?: (entry: ReceivedMessage) => void;
  /**
   * QEMU's input size limit: a token, or a message's tokens together, beyond it are refused with QEMU's
   * `JSON token size limit exceeded` (smaller values make the limit testable). @default 64 MiB, as QEMU
   */
  maxLineBytes?: number;
}

/** One message a client sent, as the fake received it. */
export interface ReceivedMessage {
  /** The client's number (1 for the first connection). */
  client: number;
  /** The parsed message, or undefined when it could not be parsed (then `error` says why). */
  message: unknown;
  /** The message text as received. */
  raw: string;
  /** `Date.now()` when it was parsed. */
  at: number;
  /** QEMU's parse error text, when the input was not valid JSON. */
  error?: string;
}

/** Something the fake wants a test author to know about: an unimplemented command, a handler that threw. */
export interface FakeError {
  client: number;
  command: string | undefined;
  message: string;
  at: number;
}

/** A connected client, as `fake.clients` lists it. */
export interface FakeClientInfo {
  /** The client's number. */
  id: number;
  /** `waiting`: connected but not yet served (one-client mode); then capabilities negotiation, then commands. */
  phase: "waiting" | "negotiation" | "command";
  /** Whether the client enabled out-of-band execution. */
  oob: boolean;
}

/**
 * What a command handler receives besides the arguments, except `fake` (`CommandContext` adds it: this file sits
 * below the fake and cannot name it).
 */
export interface CommandContextBase {
  /** The client's number. */
  readonly client: number;
  /** The command name. */
  readonly command: string;
  /** The `id` sent with the command (any JSON value), or undefined. */
  readonly id: unknown;
  /** Whether the message carried an `id` member (it may be `null`). */
  readonly hasId: boolean;
  /** Whether the command came as `exec-oob`. */
  readonly oob: boolean;
  /** The whole message. */
  readonly message: JsonObject;
  /** Aborted when the client disconnects or the fake closes. */
  readonly signal: AbortSignal;
  /** Sends an event to every negotiated client now, before this command's reply (as QEMU does for STOP). */
  emit(event: string, data?: JsonObject): void;
  /** Ends the command with a QMP error reply. */
  fail(errorClass: string, desc: string): never;
  /** Never replies; the client's later in-band commands wait behind this one, as in QEMU. */
  hang(): Promise<never>;
  /** Closes the connection cleanly (flushing what was written) without replying. */
  disconnect(): Promise<never>;
  /** Closes the connection abruptly, dropping unwritten data, without replying (QEMU killed). */
  reset(): Promise<never>;
  /** Writes raw text or bytes to this client at once, ahead of the reply. */
  sendRaw(data: string | Uint8Array): void;
  /** After this command's reply is written, close the connection (what `quit` does). */
  closeAfterReply(): void;
}

/** Options of `fake.handle()`. */
export interface HandleOptions {
  /** Accept the command as `exec-oob`. @default what the schema says, else false */
  allowOob?: boolean;
  /** Check arguments against the schema before calling the handler. @default true when the schema has the command */
  validate?: boolean;
}

/** The per-connection controls a fault works with. */
export interface FaultConnection {
  /** The client's number. */
  readonly client: number;
  /** Aborted when the connection ends. */
  readonly signal: AbortSignal;
  /** Writes raw bytes now. */
  write(data: string | Uint8Array): void;
  /** Sends an event to this connection only. */
  emit(event: string, data?: JsonObject): void;
  /** Closes cleanly after flushing. */
  close(): void;
  /** Closes abruptly. */
  reset(): void;
  /** From now on, write every byte separately, one per event-loop turn. */
  splitWrites(): void;
  /** Cut the connection once this many bytes (counted from the connection's start) were written. */
  limitBytes(total: number): void;
  /** Waits `ms`, or less if the connection ends first. */
  sleep(ms: number): Promise<void>;
  /** Resolves when everything written so far reached the kernel (or the connection ended). */
  flushed(): Promise<void>;
}

/** A reply about to be written, as a fault sees it. */
export interface FaultReply {
  readonly command: string;
  readonly id: unknown;
  readonly hasId: boolean;
  /** The reply object (`return` or `error`, and `id`). */
  readonly message: JsonObject;
  /** The exact text about to be written, CRLF included. */
  readonly text: string;
}

/** What a fault does to a reply: write these instead (empty: drop it), then optionally end the connection. */
export interface FaultReplyAction {
  write?: (string | Uint8Array)[];
  end?: "close" | "reset";
}

/**
 * A misbehaviour of the server, applied per connection. Every hook is optional; `faults.*` builds the common
 * ones, and you may write your own.
 */
export interface Fault {
  /** Shown in logs and test names. */
  readonly name: string;
  /** The connection was accepted (before the greeting). */
  opened?(conn: FaultConnection): void;
  /** The greeting text about to be sent (CRLF included); return another text, or null to send none. */
  greeting?(text: string, conn: FaultConnection): string | null | Promise<string | null>;
  /** The greeting was written (or skipped). */
  afterGreeting?(conn: FaultConnection): void;
  /** A `qmp_capabilities` reply was written and the client is in command mode. */
  afterNegotiation?(conn: FaultConnection): void;
  /** A command is about to run; a returned promise delays it. */
  beforeCommand?(command: string, conn: FaultConnection): void | Promise<void>;
  /** A reply is about to be written; return undefined to leave it alone. */
  reply?(
    reply: FaultReply,
    conn: FaultConnection,
  ): FaultReplyAction | undefined | Promise<FaultReplyAction | undefined>;
}
