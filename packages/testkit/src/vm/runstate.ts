/**
 * The run state (`query-status`) and what moves it: stop, cont, resets and shutdowns requested by the host or the
 * guest, `-no-shutdown`/`-no-reboot`, `-incoming`, with the events QEMU sends and their order, and the HMP forms.
 *
 * QEMU's rules, as recorded from 7.2 (fixtures/flows/qemu-7.2/q35/runstate*.jsonl):
 * - a reset puts a VM that is not running (and not migrating in) into `prelaunch`;
 * - with `-no-reboot` a reset request becomes a shutdown; with `-no-shutdown` a shutdown stops the VM in
 *   `shutdown` (SHUTDOWN, then STOP) where QEMU would otherwise exit;
 * - in `inmigrate`, `cont` and `stop` only decide whether the VM starts once the migration is in, so nothing
 *   visible changes;
 * - on q35, SeaBIOS answers a host reset by resetting the machine itself shortly after it runs again (twice on
 *   7.2, once on 10.0), but only once it has run at all since power-on.
 */
import { QMPCommandError } from "../errors.ts";
import type { ClockTimer } from "./clock.ts";
import { PROVIDES } from "./provides.ts";
import { returnMembers } from "./return-members.ts";
import type { SubsystemProvides, VmApi } from "./types.ts";

// QEMU's runstate_needs_reset(): states only a reset leaves.
const NEEDS_RESET = new Set(["internal-error", "shutdown", "guest-panicked"]);
// States a reset leaves alone (everything else becomes `prelaunch`).
const KEEPS_STATE_ON_RESET = new Set(["running", "inmigrate", "finish-migrate"]);
// How long SeaBIOS runs after a host reset before it resets the machine itself (measured: 50–120 ms on TCG).
const FIRMWARE_RESET_DELAY_MS = 80;

/** Why a reset or shutdown happened, as QEMU's ShutdownCause names it in RESET and SHUTDOWN events. */
export type ShutdownReason =
  | "host-qmp-quit"
  | "host-qmp-system-reset"
  | "host-signal"
  | "host-ui"
  | "guest-shutdown"
  | "guest-reset"
  | "guest-panic"
  | "subsystem-reset";

/** QEMU's RunState and its transitions. */
export class Runstate {
  static readonly provides: SubsystemProvides = PROVIDES.runstate;

  /** QEMU's RunState (`running`, `paused`, `shutdown`, …); a test may set it directly (`fake.status`). */
  status: string;
  readonly #vm: VmApi;
  /** Whether the firmware has run since power-on (then it answers a host reset with resets of its own). */
  #firmwareRan: boolean;
  #firmwareResetsDue = 0;
  #firmwareTimer: ClockTimer | undefined;
  /** QEMU's autostart: whether the guest starts once an incoming migration is in (`cont`/`stop` set it). */
  #autostart: boolean;
  readonly #powerdownListeners: (() => void)[] = [];

  constructor(vm: VmApi) {
    this.#vm = vm;
    this.status = vm.config.status;
    this.#autostart = vm.config.autostart ?? true;
    this.#firmwareRan = this.status === "running";
    // Which members query-status has is the schema's to say: 7.2 has `singlestep`, 10.0 dropped it. Read on the
    // first query-status, not at start-up: the schema is parsed on first use.
    let singlestep: boolean | undefined;
    vm.command("query-status", () => {
      singlestep ??= returnMembers(vm.machine, "query-status").includes("singlestep");
      return {
        status: this.status,
        ...(singlestep ? { singlestep: false } : {}),
        running: this.running,
      };
    });
    vm.command("stop", () => this.stop());
    vm.command("cont", () => this.cont());
    vm.command("system_reset", (_args, ctx) =>
      this.requestReset("host-qmp-system-reset", (callback) => ctx.afterReply(callback)),
    );
    vm.command("system_powerdown", () => this.powerdown());
    vm.command("system_wakeup", () => {
      throw new QMPCommandError("GenericError", "Unable to wake up: guest is not in suspended state");
    });
    vm.command("quit", (_args, ctx) => {
      this.status = "shutdown";
      vm.emit("SHUTDOWN", { guest: false, reason: "host-qmp-quit" });
      ctx.afterReply(() => vm.quit(ctx.client));
    });
    const silently = (action: () => void) => () => {
      action();
      return "";
    };
    vm.hmp(
      "stop",
      silently(() => this.stop()),
    );
    vm.hmp(
      "cont",
      silently(() => this.cont()),
    );
    vm.hmp("system_reset", (_words, ctx) => {
      this.requestReset("host-qmp-system-reset", (callback) => ctx.afterReply(callback));
      return "";
    });
    vm.hmp(
      "system_powerdown",
      silently(() => this.powerdown()),
    );
    vm.hmp("info status", () => {
      // QEMU prints the state in brackets for every stopped state but plain `paused`.
      if (this.running) return "VM status: running\r\n";
      return this.status === "paused" ? "VM status: paused\r\n" : `VM status: paused (${this.status})\r\n`;
    });
  }

  /** Whether the guest's CPUs run (`query-status`'s `running`). */
  get running(): boolean {
    return this.status === "running";
  }

  /** Whether the guest's CPUs have ever run (the firmware has set the machine up: memory map, video mode). */
  get firmwareRan(): boolean {
    return this.#firmwareRan;
  }

  /** Pauses the guest; a second stop changes nothing and sends no event, as in QEMU. */
  stop(): void {
    if (this.status === "inmigrate") this.#autostart = false;
    this.enter("paused");
  }

  /** Resumes the guest, or refuses when QEMU needs a reset first. */
  cont(): void {
    if (NEEDS_RESET.has(this.status)) {
      throw new QMPCommandError("GenericError", "Resetting the Virtual Machine is required");
    }
    // An incoming VM only notes that it should start once the migration is in.
    if (this.status === "inmigrate") {
      this.#autostart = true;
      return;
    }
    this.resume();
  }

  /**
   * An incoming migration is in. With no state from the source (the fake reads no stream), QEMU starts the guest
   * if autostart is set and pauses it otherwise.
   */
  incomingMigrated(): void {
    if (this.status !== "inmigrate") return;
    this.status = "paused";
    if (this.#autostart) this.resume();
  }

  /** Starts the guest's CPUs (RESUME) from any stopped state; nothing happens when they run already. */
  resume(): void {
    if (this.running) return;
    this.status = "running";
    this.#vm.emit("RESUME");
    this.#firmwareRan = true;
    if (this.#firmwareResetsDue > 0) this.#scheduleFirmwareResets();
  }

  /**
   * Stops a running VM in `state` (STOP), as QEMU's vm_stop: a VM that is not running keeps its state and says
   * nothing.
   */
  enter(state: string): void {
    if (!this.running) return;
    this.status = state;
    this.#firmwareTimer?.cancel();
    this.#firmwareTimer = undefined;
    this.#vm.emit("STOP");
  }

  /**
   * A reset requested by the host or the guest. With `-no-reboot` it is a shutdown instead. `afterReply` defers
   * QEMU's exit past the reply of the command that caused it.
   */
  requestReset(reason: ShutdownReason, afterReply?: (callback: () => void) => void): void {
    if (this.#vm.config.noReboot === true) {
      this.requestShutdown(reason, afterReply);
      return;
    }
    const guest = reason.startsWith("guest-");
    this.#vm.emit("RESET", { guest, reason });
    if (!KEEPS_STATE_ON_RESET.has(this.status)) this.status = "prelaunch";
    if (!guest && this.#firmwareRan && this.#vm.machine.name === "q35") {
      this.#firmwareResetsDue = this.#vm.machine.qemuVersion === "7.2" ? 2 : 1;
      if (this.running) this.#scheduleFirmwareResets();
    }
  }

  /**
   * A shutdown requested by the host or the guest: SHUTDOWN, then with `-no-shutdown` the VM stops in `shutdown`;
   * without it QEMU exits (after the reply of the command that caused it, if any).
   */
  requestShutdown(reason: ShutdownReason, afterReply?: (callback: () => void) => void): void {
    this.#vm.emit("SHUTDOWN", { guest: reason.startsWith("guest-"), reason });
    if (this.#vm.config.noShutdown === true) {
      this.enter("shutdown");
      return;
    }
    this.status = "shutdown";
    if (afterReply === undefined) this.#vm.exit();
    else afterReply(() => this.#vm.exit());
  }

  /** An ACPI power button press: what happens next is the guest's business (see `Guest`). */
  powerdown(): void {
    this.#vm.emit("POWERDOWN");
    for (const listener of this.#powerdownListeners) listener();
  }

  /** Calls `listener` after every powerdown request (the guest OS, when a test plays one). */
  onPowerdown(listener: () => void): void {
    this.#powerdownListeners.push(listener);
  }

  #scheduleFirmwareResets(): void {
    this.#firmwareTimer?.cancel();
    this.#firmwareTimer = this.#vm.clock.setTimeout(() => {
      this.#firmwareTimer = undefined;
      if (!this.running) return;
      const due = this.#firmwareResetsDue;
      this.#firmwareResetsDue = 0;
      for (let i = 0; i < due; i++) this.requestReset("guest-reset");
    }, FIRMWARE_RESET_DELAY_MS);
  }
}
