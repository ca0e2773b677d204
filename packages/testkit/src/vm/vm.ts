/**
 * The VM model: builds the subsystems of {@link SUBSYSTEMS}, keeps the QMP commands they register, and gives each of
 * them the {@link VmApi}. The dispatcher looks commands up here; the VM knows nothing of monitors.
 *
 * A subsystem that declares what it registers (`static provides`, see {@link SubsystemProvides}) is built on first
 * use: a fake that answers `query-status` builds the run state and the HMP registry, not the twenty-odd others
 * with the recorded data they read. Every answer is the one building them all at start would give: a command's
 * declaring subsystems are built before it is looked up, each registration ranks by its subsystem's place in the
 * list (a later one replaces an earlier one, whichever was built first), and `commandNames()` lists in that order.
 */
import { QMPCommandError } from "../errors.ts";
import type { JsonObject } from "../types.ts";
import type { FakeClock } from "./clock.ts";
import { Hmp } from "./hmp.ts";
import type { Machine } from "./machine.ts";
import { SUBSYSTEMS } from "./subsystems.ts";
import type {
  HmpCommand,
  MonitorChardev,
  SubsystemClass,
  VmApi,
  VmCommand,
  VmCommandContext,
  VmConfig,
  VmHost,
} from "./types.ts";

/** Everything a VM is made from. */
export interface VmOptions {
  readonly machine: Machine;
  readonly clock: FakeClock;
  readonly config: VmConfig;
  readonly host: VmHost;
  /**
   * The subsystems, in the order a full build makes them (a later one's registration of a command replaces an
   * earlier one's). Those that declare `provides` are built on first use, the others at once. @default SUBSYSTEMS
   */
  readonly subsystems?: readonly SubsystemClass[];
}

/**
 * The list's subsystems in the order a full build makes them: the list's, with a sibling that one hooks into (and so
 * gets in its constructor) just before it.
 */
function buildOrder(list: readonly SubsystemClass[]): SubsystemClass[] {
  const order: SubsystemClass[] = [];
  const visit = (subsystem: SubsystemClass): void => {
    if (order.includes(subsystem)) return;
    for (const sibling of subsystem.provides?.hooks ?? []) visit(sibling);
    if (!order.includes(subsystem)) order.push(subsystem);
  };
  for (const subsystem of list) visit(subsystem);
  return order;
}

/** A registered QMP command: its handler and the rank of its registration, with where it is listed. */
interface Registration {
  handler: VmCommand;
  rank: number;
  /** The first registration of the name in a full build's order: its place in `commandNames()`. */
  listedAt: readonly [rank: number, sequence: number];
}

function precedes(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** One emulated machine. */
export class Vm implements VmApi {
  readonly machine: Machine;
  readonly clock: FakeClock;
  readonly config: VmConfig;
  readonly #host: VmHost;
  readonly #order: readonly SubsystemClass[];
  readonly #commands = new Map<string, Registration>();
  readonly #hmpRanks = new Map<string, number>();
  #sequence = 0;
  readonly #recorded = new Map<string, VmCommand>();
  readonly #subsystems = new Map<SubsystemClass, object>();
  /** The subsystems under construction, innermost last. */
  readonly #building: SubsystemClass[] = [];

  constructor(options: VmOptions) {
    this.machine = options.machine;
    this.clock = options.clock;
    this.config = options.config;
    this.#host = options.host;
    this.#order = buildOrder(options.subsystems ?? SUBSYSTEMS);
    for (const subsystem of this.#order) if (subsystem.provides === undefined) this.get(subsystem);
  }

  /** The handler of a QMP command the VM implements. */
  commandHandler(name: string): VmCommand | undefined {
    // A scan of the declarations: cheaper than an index of them on a compiled binary's start-up (interpreted code).
    for (const subsystem of this.#order) {
      if (subsystem.provides?.commands?.includes(name)) this.get(subsystem);
    }
    return this.#commands.get(name)?.handler ?? this.#recordedReply(name);
  }

  /** The names of every QMP command the VM implements. */
  commandNames(): IterableIterator<string> {
    for (const subsystem of this.#order) this.get(subsystem);
    const listed = new Map([...this.#commands].map(([name, { listedAt }]) => [name, listedAt]));
    // What the profile recorded and no subsystem models comes after every subsystem's commands (a full build adds
    // it once they are built), before what was registered outside them.
    let sequence = 0;
    for (const name of this.machine.replies.keys()) {
      const at = [this.#order.length, sequence++] as const;
      const registered = listed.get(name);
      if (registered === undefined || precedes(at, registered)) listed.set(name, at);
    }
    return [...listed]
      .sort(([, a], [, b]) => (precedes(a, b) ? -1 : 1))
      .map(([name]) => name)
      .values();
  }

  /** What the profile recorded and no subsystem models is served as recorded: constant data, not state. */
  #recordedReply(name: string): VmCommand | undefined {
    let handler = this.#recorded.get(name);
    if (handler === undefined && this.machine.replies.has(name)) {
      const value = this.machine.replies.get(name);
      handler = () => structuredClone(value);
      this.#recorded.set(name, handler);
    }
    return handler;
  }

  emit(event: string, data?: JsonObject): void {
    this.#host.emit(event, data);
  }

  warn(message: string): void {
    this.#host.warn?.(message);
  }

  command(name: string, handler: VmCommand): void {
    const rank = this.#rank();
    const at = [rank, this.#sequence++] as const;
    const registered = this.#commands.get(name);
    if (registered === undefined) {
      this.#commands.set(name, { handler, rank, listedAt: at });
      return;
    }
    // A full build lists the name where it was first registered, and lets a subsystem later in the list win even
    // when that one was built first.
    if (precedes(at, registered.listedAt)) registered.listedAt = at;
    if (registered.rank > rank) return;
    registered.handler = handler;
    registered.rank = rank;
  }

  hmp(name: string, handler: HmpCommand): void {
    const rank = this.#rank();
    if ((this.#hmpRanks.get(name) ?? Number.NEGATIVE_INFINITY) > rank) return;
    this.#hmpRanks.set(name, rank);
    this.get(Hmp).register(name, handler);
  }

  provideHmp(name: string): void {
    for (const subsystem of this.#order) if (subsystem.provides?.hmp?.includes(name)) this.get(subsystem);
  }

  /**
   * The rank of a registration made now: the place of the innermost subsystem under construction that the list
   * has; after every one of them when none is (a registration outside a constructor replaces any earlier one).
   */
  #rank(): number {
    for (let i = this.#building.length - 1; i >= 0; i--) {
      const rank = this.#order.indexOf(this.#building[i] as SubsystemClass);
      if (rank >= 0) return rank;
    }
    return Number.POSITIVE_INFINITY;
  }

  get<T extends object>(subsystem: SubsystemClass<T>): T {
    const built = this.#subsystems.get(subsystem);
    if (built !== undefined) return built as T;
    if (this.#building.includes(subsystem)) {
      throw new Error(`${subsystem.name} needs itself while it is being built: look siblings up later`);
    }
    this.#building.push(subsystem);
    let instance: T;
    try {
      instance = new subsystem(this);
      this.#subsystems.set(subsystem, instance);
    } finally {
      this.#building.pop();
    }
    for (const hooking of this.#order) {
      // One under construction (it got this sibling in its constructor) installs its hook itself.
      const hooks = hooking.provides?.hooks?.includes(subsystem) === true;
      if (hooks && !this.#building.includes(hooking)) this.get(hooking);
    }
    return instance;
  }

  /** The subsystem of that class if it has been built (closing the fake need not build what was never used). */
  built<T extends object>(subsystem: SubsystemClass<T>): T | undefined {
    return this.#subsystems.get(subsystem) as T | undefined;
  }

  quit(client: number): void {
    this.#host.quit(client);
  }

  exit(): void {
    this.#host.exit();
  }

  monitors(): readonly MonitorChardev[] {
    return this.#host.monitors?.() ?? [];
  }

  unimplemented(ctx: VmCommandContext, what: string): never {
    // QEMU knows this; answering "unknown" would be a lie, answering nothing a silent hole in a test.
    this.#host.reportError(ctx.client, ctx.command, `${what} is not implemented by the fake`);
    throw new QMPCommandError("GenericError", `qmpkit fake: ${what} is not implemented`);
  }
}
