/**
 * The VM model: builds the subsystems of {@link SUBSYSTEMS} in order, keeps the QMP commands they register, and
 * gives each of them the {@link VmApi}. The dispatcher looks commands up here; the VM knows nothing of monitors.
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
  /** The subsystems to build, in order. @default SUBSYSTEMS */
  readonly subsystems?: readonly SubsystemClass[];
}

/** One emulated machine. */
export class Vm implements VmApi {
  readonly machine: Machine;
  readonly clock: FakeClock;
  readonly config: VmConfig;
  readonly #host: VmHost;
  readonly #commands = new Map<string, VmCommand>();
  readonly #subsystems = new Map<SubsystemClass, object>();
  readonly #building = new Set<SubsystemClass>();

  constructor(options: VmOptions) {
    this.machine = options.machine;
    this.clock = options.clock;
    this.config = options.config;
    this.#host = options.host;
    for (const subsystem of options.subsystems ?? SUBSYSTEMS) this.get(subsystem);
    // What the profile recorded and no subsystem models is served as recorded: constant data, not state.
    for (const [name, value] of this.machine.replies) {
      if (!this.#commands.has(name)) this.#commands.set(name, () => structuredClone(value));
    }
  }

  /** The handler of a QMP command the VM implements. */
  commandHandler(name: string): VmCommand | undefined {
    return this.#commands.get(name);
  }

  /** The names of every QMP command the VM implements. */
  commandNames(): IterableIterator<string> {
    return this.#commands.keys();
  }

  emit(event: string, data?: JsonObject): void {
    this.#host.emit(event, data);
  }

  warn(message: string): void {
    this.#host.warn?.(message);
  }

  command(name: string, handler: VmCommand): void {
    this.#commands.set(name, handler);
  }

  hmp(name: string, handler: HmpCommand): void {
    this.get(Hmp).register(name, handler);
  }

  get<T extends object>(subsystem: SubsystemClass<T>): T {
    const built = this.#subsystems.get(subsystem);
    if (built !== undefined) return built as T;
    if (this.#building.has(subsystem)) {
      throw new Error(`${subsystem.name} needs itself while it is being built: look siblings up later`);
    }
    this.#building.add(subsystem);
    try {
      const instance = new subsystem(this);
      this.#subsystems.set(subsystem, instance);
      return instance;
    } finally {
      this.#building.delete(subsystem);
    }
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
