/**
 * The interface between the VM model and everything else. A subsystem (runstate, identity, and later QOM and
 * devices, block, jobs, migration, registries, the guest) sees only {@link VmApi}; it never sees a socket, a
 * session or the dispatcher. See README.md in this folder.
 */
import type { JsonObject } from "../types.ts";
import type { Clock } from "./clock.ts";
import type { Machine } from "./machine.ts";

/** What a QMP command implemented by the VM gets besides its arguments. */
export interface VmCommandContext {
  /** The number of the client that sent the command. */
  readonly client: number;
  /** The command name. */
  readonly command: string;
  /** Aborted when that client disconnects (or the fake closes). */
  readonly signal: AbortSignal;
  /** Runs `callback` right after this command's reply is written (QEMU's `quit` exits then). */
  afterReply(callback: () => void): void;
  /**
   * Takes the file descriptor the client passed (SCM_RIGHTS) before this command, as `getfd` and `add-fd` do:
   * true once per descriptor, false when none came. The fake sees that one came but not the descriptor itself
   * (see the testkit README). Absent where no monitor is involved (the emulator's start-up).
   */
  takeFd?(): boolean;
}

/** A monitor's own chardev as `query-chardev` lists it. */
export interface MonitorChardev {
  readonly label: string;
  readonly filename: string;
}

/**
 * Implements one QMP command: returns its `return` value (undefined means `{}`) or a promise of it; throws
 * `QMPCommandError` for QEMU's error reply. Arguments were already checked against the schema.
 */
export type VmCommand = (args: JsonObject, ctx: VmCommandContext) => unknown;

/** What an HMP command gets: the words after its name, and the line as typed. */
export interface HmpContext extends VmCommandContext {
  /** The whole command line, trimmed. */
  readonly line: string;
}

/** Implements one HMP command (`human-monitor-command`): returns the text QEMU prints, CRLF line ends included. */
export type HmpCommand = (words: readonly string[], ctx: HmpContext) => string;

/**
 * What a subsystem registers, declared on its class (`static readonly provides`) so the VM builds it on first use
 * rather than when the fake starts: when one of its commands is first looked up, when a sibling `get`s it, or when
 * a sibling it hooks into is built. A class that declares nothing is built with the VM. The VM's own subsystems
 * keep theirs in `provides.ts`, where the VM reads them without evaluating the subsystems' modules.
 */
export interface SubsystemProvides {
  /** The QMP commands its constructor may register (one the recording lacks may be left out at run time). */
  readonly commands?: readonly string[];
  /** The HMP commands it may register or answer through `Hmp.fallback`. */
  readonly hmp?: readonly string[];
  /**
   * The declarations of the siblings it installs something into when built (a listener, an object type): it is
   * built right after any of them, so they never run without it. A hook that changes nothing until a test asks
   * this subsystem for something need not be listed. Each must be in the VM's list.
   */
  readonly hooks?: readonly SubsystemProvides[];
}

/** A subsystem class: constructed once per VM, with the VM's API. */
export interface SubsystemClass<T = object> {
  new (vm: VmApi): T;
  readonly provides?: SubsystemProvides;
}

/**
 * A subsystem as the VM's list names it: its class's declaration, known before the class's module is evaluated,
 * and the class (the module is evaluated on the first call).
 */
export interface SubsystemEntry<T extends object = object> {
  /** The class's name in the source (a bundler may rename the class). */
  readonly name: string;
  /** The class's `provides`: the same object. */
  readonly provides: SubsystemProvides;
  load(): SubsystemClass<T>;
}

/** What the VM needs from the fake around it. */
export interface VmHost {
  /** Sends an event to every client in command mode, synchronously. */
  emit(event: string, data?: JsonObject): void;
  /** QEMU exits (or, with `onQuit: "close-client"`, only `client`'s monitor closes). */
  quit(client: number): void;
  /** QEMU's process ends (a shutdown without `-no-shutdown`): every monitor closes, nothing listens. */
  exit(): void;
  /** Adds an entry to `fake.errors`. */
  reportError(client: number | undefined, command: string | undefined, message: string): void;
  /** The chardevs the monitors listen on (QEMU's `compat_monitor0`, …), in creation order. */
  monitors?(): readonly MonitorChardev[];
  /** QEMU's warn_report(): a line on its stderr, without the `warning: ` prefix. */
  warn?(message: string): void;
}

/** The settings a fake starts its VM with. */
export interface VmConfig {
  /** The run state at start (`query-status`). */
  readonly status: string;
  readonly version: { qemu: { major: number; minor: number; micro: number }; package: string };
  /** `-name`, if any. */
  readonly name: string | undefined;
  /** `-uuid`, if any. */
  readonly uuid?: string | undefined;
  /** `-no-shutdown`: a shutdown stops the VM in `shutdown` instead of ending QEMU. */
  readonly noShutdown?: boolean | undefined;
  /** `-no-reboot`: a reset request (the host's or the guest's) is a shutdown instead. */
  readonly noReboot?: boolean | undefined;
  /** `-incoming`: `defer`, or the URI the VM waits for its migration stream on. */
  readonly incoming?: string | undefined;
  /** What the VM runs on: `kvm` makes query-kvm say enabled. @default "tcg" */
  readonly accelerator?: "tcg" | "kvm" | undefined;
  /** QEMU's autostart: the guest runs once it can (an incoming migration is in). `-S` clears it. @default true */
  readonly autostart?: boolean | undefined;
}

/** The VM as a subsystem sees it. */
export interface VmApi {
  /** QEMU's warn_report() (see VmHost.warn); dropped where nothing prints it. */
  warn(message: string): void;
  /** The machine profile (`none` or `q35`) with what was recorded from QEMU for it. */
  readonly machine: Machine;
  /** The clock jobs and migrations schedule their work on (`fake.clock`). */
  readonly clock: Clock;
  readonly config: VmConfig;
  /**
   * Sends an event to every negotiated client now. Called inside a command, the event goes out before that
   * command's reply, as QEMU sends `STOP` before `stop` returns.
   */
  emit(event: string, data?: JsonObject): void;
  /** Registers a QMP command (a later registration of the same name replaces an earlier one). */
  command(name: string, handler: VmCommand): void;
  /** Registers an HMP command: `"stop"`, or `"info status"` for an `info` subcommand. */
  hmp(name: string, handler: HmpCommand): void;
  /**
   * Builds the subsystems that declare the HMP command `name` (see {@link SubsystemProvides}) if they are not built
   * yet, so that what they register for it is there: the HMP registry asks before it looks a command up.
   */
  provideHmp(name: string): void;
  /** The sibling subsystem of that class (built on first use). */
  get<T extends object>(subsystem: SubsystemClass<T>): T;
  /** QEMU exits after the current reply (see {@link VmHost.quit}). */
  quit(client: number): void;
  /** QEMU's process ends now, whatever `onQuit` says (see {@link VmHost.exit}). */
  exit(): void;
  /** The chardevs the monitors listen on, for `query-chardev`. */
  monitors(): readonly MonitorChardev[];
  /** Reports, then refuses, something QEMU does that the model does not (a GenericError naming it). */
  unimplemented(ctx: VmCommandContext, what: string): never;
}
