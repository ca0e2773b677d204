/**
 * The guest OS, played by the test. Real QEMU with no guest OS never answers an ACPI power button, never reboots
 * or panics by itself: a test of a VM manager needs someone to do those things, at the moment it chooses. What
 * each action sends is QEMU 7.2's, recorded with the guest side driven through I/O ports (HMP `o`: the pvpanic
 * port for a panic, 0xcf9 for a reset):
 * - reboot: RESET {guest: true, reason: "guest-reset"} (a shutdown instead under `-no-reboot`);
 * - shutdown: SHUTDOWN {guest: true, reason: "guest-shutdown"}, then STOP in `shutdown` under `-no-shutdown`,
 *   or QEMU exits;
 * - panic (the default `-action panic=shutdown`): under `-no-shutdown` GUEST_PANICKED {action: "pause"} and STOP
 *   in `guest-panicked`; otherwise GUEST_PANICKED {action: "poweroff"}, STOP, SHUTDOWN (guest-panic) and exit;
 * - an unplug acknowledged (the guest releases a device after `device_del`): DEVICE_DELETED for a virtio device's
 *   inner `…/virtio-backend` first, then for the device with its id, as QEMU finalizes them; the device leaves the
 *   QOM tree and `query-pci`, and its drive is free again.
 * - balloon: BALLOON_CHANGE {actual} when the driver's figure changes (QEMU sends none for an unchanged one).
 */
import { type Device, Devices } from "./devices/devices.ts";
import { PROVIDES } from "./provides.ts";
import { Balloon } from "./registries/balloon.ts";
import { Runstate } from "./runstate.ts";
import type { SubsystemProvides, VmApi } from "./types.ts";

// How long a guest OS takes to shut down after the power button, when a test asks it to answer the button.
const POWERDOWN_SHUTDOWN_DELAY_MS = 50;
// How long the guest takes to release a device once asked, when a test makes it acknowledge every unplug.
const UNPLUG_ACK_DELAY_MS = 100;

/** What a test can make the guest do (`fake.guest`). */
export class Guest {
  static readonly provides: SubsystemProvides = PROVIDES.guest;

  readonly #vm: VmApi;
  #answersPowerdown = false;
  #acksUnplugs = false;
  readonly #unplugRequests = new Set<Device>();

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.get(Devices).onUnplugRequest((device) => {
      this.#unplugRequests.add(device);
      if (this.#acksUnplugs) this.#ackLater(device);
    });
    vm.get(Runstate).onPowerdown(() => {
      if (!this.#answersPowerdown) return;
      // The guest shuts down on its own time, after the POWERDOWN event and the command's reply.
      vm.clock.setTimeout(() => {
        if (this.#runstate.running) this.shutdown();
      }, POWERDOWN_SHUTDOWN_DELAY_MS);
    });
  }

  /**
   * Whether the guest OS shuts down when the power button is pressed (`system_powerdown`, a VM manager's
   * "graceful shutdown"). @default false, as a QEMU with no guest OS
   */
  answerPowerdown(answers = true): this {
    this.#answersPowerdown = answers;
    return this;
  }

  /**
   * Whether the guest OS releases every device a later `device_del` asks for (PCIe hot-unplug), a short while
   * after the request on the VM clock and only while its CPUs run. @default false, as a QEMU with no guest OS:
   * the unplug then stays "in the process of unplug" forever
   */
  ackUnplugs(acks = true): this {
    this.#acksUnplugs = acks;
    return this;
  }

  /** The guest releases the device `id` now, answering the pending `device_del` of it. */
  ackUnplug(id: string): void {
    this.#requireRunning(`acknowledge the unplug of ${id}`);
    const device = [...this.#unplugRequests].find((d) => d.id === id || d.path === id);
    if (device === undefined) throw new Error(`No unplug of ${id} is pending: send device_del first`);
    this.#unplugRequests.delete(device);
    this.#vm.get(Devices).completeUnplug(device);
  }

  #ackLater(device: Device): void {
    this.#vm.clock.setTimeout(() => {
      if (!this.#unplugRequests.has(device)) return;
      // A paused guest answers nothing; it does once its CPUs run again.
      if (!this.#runstate.running) return this.#ackLater(device);
      this.#unplugRequests.delete(device);
      this.#vm.get(Devices).completeUnplug(device);
    }, UNPLUG_ACK_DELAY_MS);
  }

  /** The guest powers itself off (ACPI S5). */
  shutdown(): void {
    this.#requireRunning("shut down");
    this.#runstate.requestShutdown("guest-shutdown");
  }

  /** The guest reboots itself. */
  reboot(): void {
    this.#requireRunning("reboot");
    this.#runstate.requestReset("guest-reset");
  }

  /** The guest kernel panics and reports it through a pvpanic device. */
  panic(): void {
    this.#requireRunning("panic");
    const runstate = this.#runstate;
    if (this.#vm.config.noShutdown === true) {
      this.#vm.emit("GUEST_PANICKED", { action: "pause" });
      runstate.enter("guest-panicked");
      return;
    }
    this.#vm.emit("GUEST_PANICKED", { action: "poweroff" });
    runstate.enter("guest-panicked");
    runstate.requestShutdown("guest-panic");
  }

  /**
   * The guest's balloon driver gives memory back or takes it (default: to the host's last `balloon` target),
   * which QEMU reports as BALLOON_CHANGE. Needs a balloon device and running CPUs.
   */
  balloon(actualBytes?: number): void {
    this.#requireRunning("move its balloon");
    this.#vm.get(Balloon).guestReports(actualBytes);
  }

  get #runstate(): Runstate {
    return this.#vm.get(Runstate);
  }

  #requireRunning(action: string): void {
    const { status } = this.#runstate;
    if (status !== "running") {
      throw new Error(`The guest cannot ${action}: its CPUs are not running (status ${status})`);
    }
  }
}
