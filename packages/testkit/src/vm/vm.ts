/**
 * The VM model: builds the subsystems of {@link SUBSYSTEMS}, keeps the QMP commands they register, and gives each of
 * them the {@link VmApi}. The dispatcher looks commands up here; the VM knows nothing of monitors.
 *
 * A subsystem that declares what it registers (`static provides`, see {@link SubsystemProvides}) is built on first
 * use: a fake that answers `query-status` builds the run state, not the twenty-odd others with the recorded data
 * they read. Every answer is the one building them all at start would give: a command's
 * declaring subsystems are built before it is looked up, each registration ranks by its subsystem's place in the
 * list (a later one replaces an earlier one, whichever was built first), and `commandNames()` lists in that order.
 * The list's entries carry the declarations, so that a subsystem's module is evaluated only when it is built.
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
  SubsystemEntry,
  SubsystemProvides,
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
   * earlier one's): entries, or classes that declare on themselves. Entries and classes that declare `provides`
   * are built on first use, other classes at once. @default SUBSYSTEMS
   */
  readonly subsystems?: readonly (SubsystemEntry | SubsystemClass)[];
}

/** The list with each class as an entry (its `provides` read off it), and the classes that declare nothing. */
function entriesOf(list: readonly (SubsystemEntry | SubsystemClass)[]): {
  entries: readonly SubsystemEntry[];
  eager: readonly SubsystemEntry[];
} {
  const eager: SubsystemEntry[] = [];
  const entries = list.map((item): SubsystemEntry => {
    if (typeof item !== "function") return item;
    const entry = { name: item.name, provides: item.provides ?? {}, load: () => item };
    if (item.provides === undefined) eager.push(entry);
    return entry;
  });
  return { entries, eager };
}

/**
 * The list's subsystems in the order a full build makes them: the list's, with a sibling that one hooks into (and so
 * gets in its constructor) just before it.
 */
function buildOrder(
  list: readonly SubsystemEntry[],
  byProvides: ReadonlyMap<SubsystemProvides, SubsystemEntry>,
): SubsystemEntry[] {
  const order: SubsystemEntry[] = [];
  const visit = (subsystem: SubsystemEntry): void => {
    if (order.includes(subsystem)) return;
    for (const provides of subsystem.provides.hooks ?? []) {
      const sibling = byProvides.get(provides);
      if (sibling === undefined)
        throw new Error(`${subsystem.name} hooks into a subsystem the VM does not know`);
      visit(sibling);
    }
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
  readonly #order: readonly SubsystemEntry[];
  /** The entry of each class met so far. */
  readonly #entries = new Map<SubsystemClass, SubsystemEntry>();
  readonly #commands = new Map<string, Registration>();
  readonly #hmpRanks = new Map<string, number>();
  /**
   * HMP registrations made before the HMP registry was built, which takes them when it is: the run state registers
   * its HMP commands on every fake, and a session that sends none (exec's query-status) never builds the registry.
   */
  #hmpPending: [name: string, handler: HmpCommand][] | undefined;
  #sequence = 0;
  readonly #recorded = new Map<string, VmCommand>();
  readonly #subsystems = new Map<SubsystemClass, object>();
  /** The built subsystems of the list, by entry: looked up on every command without asking for the class. */
  readonly #builtEntries = new Map<SubsystemEntry, object>();
  /** The subsystems under construction, innermost last. */
  readonly #building: SubsystemClass[] = [];

  constructor(options: VmOptions) {
    this.machine = options.machine;
    this.clock = options.clock;
    this.config = options.config;
    this.#host = options.host;
    const list = options.subsystems ?? SUBSYSTEMS;
    // The VM's own list is in build order already (lazy-build.test.ts checks it): nothing to sort at start-up.
    if (list === SUBSYSTEMS) {
      this.#order = SUBSYSTEMS;
      return;
    }
    const { entries, eager } = entriesOf(list);
    // A sibling the list hooks into and lacks is the VM's own (a test's list of a few subsystems).
    const known = new Map<SubsystemProvides, SubsystemEntry>();
    for (const entry of SUBSYSTEMS) known.set(entry.provides, entry);
    for (const entry of entries) known.set(entry.provides, entry);
    this.#order = buildOrder(entries, known);
    for (const entry of this.#order) if (eager.includes(entry)) this.subsystem(entry);
  }

  /**
   * The list's entry of a class, found by the declaration they share: a class a sibling imported is met before its
   * entry's `load()` ever ran, and asking every entry would evaluate every module.
   */
  #entryOf(subsystem: SubsystemClass): SubsystemEntry | undefined {
    const known = this.#entries.get(subsystem);
    if (known !== undefined || subsystem.provides === undefined) return known;
    for (const entry of this.#order) {
      if (entry.provides !== subsystem.provides) continue;
      this.#entries.set(subsystem, entry);
      return entry;
    }
    return undefined;
  }

  /** The handler of a QMP command the VM implements. */
  commandHandler(name: string): VmCommand | undefined {
    // A scan of the declarations: cheaper than an index of them on a compiled binary's start-up (interpreted code).
    for (const entry of this.#order) if (entry.provides.commands?.includes(name)) this.subsystem(entry);
    return this.#commands.get(name)?.handler ?? this.#recordedReply(name);
  }

  /** The names of every QMP command the VM implements. */
  commandNames(): IterableIterator<string> {
    for (const entry of this.#order) this.subsystem(entry);
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
    const registry = this.#subsystems.get(Hmp) as Hmp | undefined;
    if (registry !== undefined) {
      registry.register(name, handler);
      return;
    }
    this.#hmpPending ??= [];
    this.#hmpPending.push([name, handler]);
  }

  provideHmp(name: string): void {
    for (const entry of this.#order) if (entry.provides.hmp?.includes(name)) this.subsystem(entry);
  }

  /**
   * The rank of a registration made now: the place of the innermost subsystem under construction that the list
   * has; after every one of them when none is (a registration outside a constructor replaces any earlier one).
   */
  #rank(): number {
    for (let i = this.#building.length - 1; i >= 0; i--) {
      const entry = this.#entries.get(this.#building[i] as SubsystemClass);
      const rank = entry === undefined ? -1 : this.#order.indexOf(entry);
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
    const entry = this.#entryOf(subsystem);
    this.#building.push(subsystem);
    let instance: T;
    try {
      instance = new subsystem(this);
      this.#subsystems.set(subsystem, instance);
    } finally {
      this.#building.pop();
    }
    if (subsystem === Hmp && this.#hmpPending !== undefined) {
      // After the registry's own commands, as when it was built for the first of these registrations.
      for (const [name, handler] of this.#hmpPending) (instance as Hmp).register(name, handler);
      this.#hmpPending = undefined;
    }
    if (entry === undefined) return instance;
    this.#builtEntries.set(entry, instance);
    for (const hooking of this.#order) {
      if (hooking.provides.hooks?.includes(entry.provides) !== true) continue;
      // One under construction (it got this sibling in its constructor) installs its hook itself.
      const underConstruction = this.#building.some((building) => this.#entries.get(building) === hooking);
      if (!underConstruction) this.subsystem(hooking);
    }
    return instance;
  }

  /** The subsystem of that class if it has been built (closing the fake need not build what was never used). */
  built<T extends object>(subsystem: SubsystemClass<T> | SubsystemEntry<T>): T | undefined {
    const built =
      typeof subsystem === "function" ? this.#subsystems.get(subsystem) : this.#builtEntries.get(subsystem);
    return built as T | undefined;
  }

  /** The subsystem of that entry, built on first use (its module is evaluated then). */
  subsystem<T extends object>(entry: SubsystemEntry<T>): T {
    const built = this.#builtEntries.get(entry);
    if (built !== undefined) return built as T;
    const subsystem = entry.load();
    this.#entries.set(subsystem, entry);
    return this.get(subsystem);
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
