/**
 * The memory balloon (`balloon`, `query-balloon`, BALLOON_CHANGE), as QEMU 7.2 and 10.0 answer them (recorded in
 * fixtures/flows/qemu-*\/q35/registries.jsonl and by hand):
 * - with no virtio-balloon device both commands fail with DeviceNotActive "No balloon device has been
 *   activated"; a target of 0 or less is "Parameter 'target' expects a size";
 * - with a device but no guest driver, `balloon` succeeds and nothing moves: `actual` stays the RAM size;
 * - a guest driver moves `actual` towards the target on its own time and each change is a BALLOON_CHANGE
 *   `{actual}`: a test plays that driver with `fake.guest.balloon()`.
 *
 * The devices model (or a test) says when a balloon device exists with {@link Balloon.attach}/{@link
 * Balloon.detach}; this file depends on no device model.
 */
import { QMPCommandError } from "../../errors.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi } from "../types.ts";

// The flows' guest RAM (-m 256); the fake models no other size yet.
export const GUEST_RAM_BYTES = 256 * 1024 * 1024;

/** The balloon's state. */
export class Balloon {
  static readonly provides: SubsystemProvides = PROVIDES.balloon;

  readonly #vm: VmApi;
  /** The virtio-balloon device's id ("" for one without an id), undefined when there is none. */
  #device: string | undefined;
  /** What the guest currently has (`query-balloon`'s `actual`). */
  #actual = GUEST_RAM_BYTES;
  /** What the host last asked for (`balloon`'s value, capped at the RAM size). */
  #target = GUEST_RAM_BYTES;

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("query-balloon", () => {
      this.#requireDevice();
      return { actual: this.#actual };
    });
    vm.command("balloon", (args) => {
      this.#requireDevice();
      const value = args.value as number;
      if (value <= 0) throw new QMPCommandError("GenericError", "Parameter 'target' expects a size");
      this.#target = Math.min(value, GUEST_RAM_BYTES);
    });
    vm.hmp("info balloon", () => {
      if (this.#device === undefined) return "Error: No balloon device has been activated\r\n";
      return `balloon: actual=${Math.floor(this.#actual / (1024 * 1024))}\r\n`;
    });
  }

  /** A virtio-balloon device was plugged (the command line's, or a hotplugged one). */
  attach(deviceId = ""): void {
    this.#device = deviceId;
  }

  /** The balloon device went away: the guest has all its memory again. */
  detach(): void {
    this.#device = undefined;
    this.#actual = GUEST_RAM_BYTES;
    this.#target = GUEST_RAM_BYTES;
  }

  /** Whether a balloon device exists. */
  get active(): boolean {
    return this.#device !== undefined;
  }

  /** What the guest has now (bytes). */
  get actual(): number {
    return this.#actual;
  }

  /** What the host asked for last (bytes). */
  get target(): number {
    return this.#target;
  }

  /**
   * The guest's balloon driver reports it now holds `actual` bytes (default: the target): BALLOON_CHANGE when
   * that differs from before, as QEMU sends it only for a change.
   */
  guestReports(actual = this.#target): void {
    if (this.#device === undefined) throw new Error("The guest has no balloon device to inflate or deflate");
    if (actual === this.#actual) return;
    this.#actual = actual;
    this.#vm.emit("BALLOON_CHANGE", { actual });
  }

  #requireDevice(): void {
    if (this.#device === undefined) {
      throw new QMPCommandError("DeviceNotActive", "No balloon device has been activated");
    }
  }
}
