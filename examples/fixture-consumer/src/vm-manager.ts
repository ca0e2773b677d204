/**
 * An imaginary VM manager — the kind of program whose tests use @qmpkit/testkit's fake QEMU as a fixture. It
 * keeps a VM's power state from QMP events, hot-plugs disks and translates qmpkit's errors into its own.
 */
import {
  type EventListener,
  ExecInterruptedError,
  ExecuteError,
  QMPClient,
  QMPError,
  Runstate,
  TimeoutError,
  type TypedEvent,
} from "@qmpkit/qmp";
import type { Events as Qemu72Events } from "@qmpkit/qmp/qapi/qemu-7.2";

/** The events the manager follows, typed from QEMU's schema: `SHUTDOWN`'s data has `guest` and `reason`. */
type PowerEvent = TypedEvent<Qemu72Events, "STOP" | "RESUME" | "SHUTDOWN">;

/** What the manager believes the VM is doing. */
export type PowerState = "running" | "paused" | "shut down" | "gone";

/** Why a manager operation failed; callers branch on `code`. */
export type VmErrorCode = "QEMU_REFUSED" | "QEMU_TIMEOUT" | "QEMU_GONE" | "QEMU_ERROR";

/** The one error type the manager throws. */
export class VmError extends Error {
  override readonly name = "VmError";
  constructor(
    readonly code: VmErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A disk to hot-plug: a raw image file as a virtio-blk device. */
export interface DiskSpec {
  id: string;
  file: string;
}

/** The `SHUTDOWN` event's story. */
export interface ShutdownInfo {
  guest: boolean;
  reason: string;
}

/** Options of {@link VmManager.attach}. */
export interface AttachOptions {
  /** How long one QMP command may take. */
  commandTimeoutMs?: number;
  /** How long connecting and QMP negotiation may take. */
  connectTimeoutMs?: number;
}

function translate(error: unknown, what: string): VmError {
  if (error instanceof ExecuteError) {
    return new VmError("QEMU_REFUSED", `${what}: ${error.errorClass}: ${error.desc}`, { cause: error });
  }
  if (error instanceof TimeoutError)
    return new VmError("QEMU_TIMEOUT", `${what}: QEMU did not answer`, { cause: error });
  if (error instanceof ExecInterruptedError) {
    return new VmError("QEMU_GONE", `${what}: the connection to QEMU was lost`, { cause: error });
  }
  if (error instanceof QMPError)
    return new VmError("QEMU_ERROR", `${what}: ${error.message}`, { cause: error });
  throw error;
}

/** One VM, driven over its QMP socket. */
export class VmManager {
  readonly #client: QMPClient;
  readonly #events: EventListener<PowerEvent>;
  readonly #commandTimeoutMs: number;
  #state: PowerState = "running";
  readonly #stateWaiters = new Set<() => void>();
  readonly #shutdown = Promise.withResolvers<ShutdownInfo>();

  private constructor(client: QMPClient, commandTimeoutMs: number) {
    this.#client = client;
    this.#commandTimeoutMs = commandTimeoutMs;
    this.#events = client.listen({ names: ["STOP", "RESUME", "SHUTDOWN"] });
    this.#shutdown.promise.catch(() => {}); // nobody may be waiting for it
    void this.#follow();
  }

  /** Connects to the VM's QMP socket and reads its current state. */
  static async attach(address: string, options: AttachOptions = {}): Promise<VmManager> {
    const client = new QMPClient({ name: "vm-manager" });
    try {
      await client.connect(address, { timeoutMs: options.connectTimeoutMs ?? 5_000 });
    } catch (error) {
      throw translate(error, "attach");
    }
    const manager = new VmManager(client, options.commandTimeoutMs ?? 5_000);
    await manager.refresh();
    return manager;
  }

  /** The power state as of the last event or query. */
  get state(): PowerState {
    return this.#state;
  }

  /** Asks QEMU for the state (`query-status`) rather than trusting events. */
  async refresh(): Promise<PowerState> {
    const { status } = await this.#run("query status", () =>
      this.#client.execute("query-status", {}, { timeoutMs: this.#commandTimeoutMs }),
    );
    if (this.#state !== "shut down" && this.#state !== "gone") {
      this.#setState(status === "running" ? "running" : status === "shutdown" ? "shut down" : "paused");
    }
    return this.#state;
  }

  /** Resolves once the state is `wanted` (at once if it is already), e.g. after another client paused the VM. */
  async until(wanted: PowerState, timeoutMs = 5_000): Promise<void> {
    if (this.#state === wanted) return;
    const reached = Promise.withResolvers<void>();
    const check = () => {
      if (this.#state === wanted) reached.resolve();
    };
    const timer = setTimeout(
      () =>
        reached.reject(new VmError("QEMU_TIMEOUT", `the VM did not become ${wanted} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    this.#stateWaiters.add(check);
    try {
      await reached.promise;
    } finally {
      clearTimeout(timer);
      this.#stateWaiters.delete(check);
    }
  }

  async pause(): Promise<void> {
    await this.#run("pause", () => this.#client.execute("stop", {}, { timeoutMs: this.#commandTimeoutMs }));
    this.#setState("paused"); // stop's reply means the VM is paused; no need to wait for STOP
  }

  async resume(): Promise<void> {
    await this.#run("resume", () => this.#client.execute("cont", {}, { timeoutMs: this.#commandTimeoutMs }));
    this.#setState("running");
  }

  /** Hot-plugs a disk: the block node first, then the device that uses it. */
  async attachDisk(disk: DiskSpec): Promise<void> {
    const options = { timeoutMs: this.#commandTimeoutMs };
    const node = `${disk.id}-node`;
    await this.#run(`attach disk ${disk.id}`, async () => {
      await this.#client.execute(
        "blockdev-add",
        { driver: "raw", "node-name": node, file: { driver: "file", filename: disk.file } },
        options,
      );
      // device_add takes device-specific properties QEMU's schema cannot list, so it goes untyped.
      await this.#client.executeUntyped(
        "device_add",
        { driver: "virtio-blk-pci", id: disk.id, drive: node },
        options,
      );
    });
  }

  /** The ids of the disks QEMU reports. */
  async disks(): Promise<string[]> {
    const devices = await this.#run("list disks", () =>
      this.#client.execute("query-block", {}, { timeoutMs: this.#commandTimeoutMs }),
    );
    return devices.map((d) => d.qdev ?? d.device).filter((id) => id !== "");
  }

  /** Resolves when the VM shuts down (the guest powered off, or someone asked QEMU to quit). */
  whenShutDown(): Promise<ShutdownInfo> {
    return this.#shutdown.promise;
  }

  /** Lets go of the VM (it keeps running). */
  async detach(): Promise<void> {
    this.#events.close();
    await this.#client.disconnect().catch(() => {}); // how the session ended no longer matters
  }

  #setState(next: PowerState): void {
    this.#state = next;
    for (const waiter of this.#stateWaiters) waiter();
  }

  async #run<T>(what: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw translate(error, what);
    }
  }

  async #follow(): Promise<void> {
    const ended = (async () => {
      for await (const state of this.#client.runstateChanges()) if (state !== Runstate.RUNNING) return;
    })();
    void ended.then(() => {
      if (this.#state !== "shut down") this.#setState("gone");
      this.#shutdown.reject(new VmError("QEMU_GONE", "the connection to QEMU was lost"));
      this.#events.close();
    });
    for await (const event of this.#events) {
      if (event.event === "STOP") this.#setState("paused");
      else if (event.event === "RESUME") this.#setState("running");
      else if (event.event === "SHUTDOWN") {
        this.#setState("shut down");
        this.#shutdown.resolve({ guest: event.data.guest, reason: event.data.reason });
      }
    }
  }
}
