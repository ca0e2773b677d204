/**
 * The guest OS, played by the test. Real QEMU with no guest OS never answers an ACPI power button, never reboots
 * or panics by itself: a test of a VM manager needs someone to do those things, at the moment it chooses. What
 * each action sends is QEMU 7.2's, recorded with the guest side driven through I/O ports (HMP `o`: the pvpanic
 * port for a panic, 0xcf9 for a reset):
 * - reboot: RESET {guest: true, reason: "guest-reset"} (a shutdown instead under `-no-reboot`);
 * - shutdown: SHUTDOWN {guest: true, reason: "guest-shutdown"}, then STOP in `shutdown` under `-no-shutdown`,
 *   or QEMU exits;
 * - panic (the default `-action panic=shutdown`): under `-no-shutdown` GUEST_PANICKED {action: "pause"} and STOP
 *   in `guest-panicked`; otherwise GUEST_PANICKED {action: "poweroff"}, STOP, SHUTDOWN (guest-panic) and exit.
 */
import { Runstate } from "./runstate.ts";
import type { VmApi } from "./types.ts";

// How long a guest OS takes to shut down after the power button, when a test asks it to answer the button.
const POWERDOWN_SHUTDOWN_DELAY_MS = 50;

/** What a test can make the guest do (`fake.guest`). */
export class Guest {
  readonly #vm: VmApi;
  #answersPowerdown = false;

  constructor(vm: VmApi) {
    this.#vm = vm;
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
