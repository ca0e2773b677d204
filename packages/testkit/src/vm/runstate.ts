/**
 * The run state (`query-status`) and the commands that move it: stop, cont, system_reset, system_powerdown,
 * quit, with the events QEMU sends before their replies, and their HMP forms.
 */
import type { SchemaEntry } from "../dispatch/schema-args.ts";
import { QmpCommandError } from "../errors.ts";
import type { VmApi } from "./types.ts";

// RunStates after which `cont` requires a reset first (QEMU's runstate_needs_reset()).
const NEEDS_RESET = new Set(["internal-error", "shutdown", "guest-panicked"]);

/** QEMU's RunState and its transitions. */
export class Runstate {
  /** QEMU's RunState (`running`, `paused`, `shutdown`, …); a test may set it directly (`fake.status`). */
  status: string;
  readonly #vm: VmApi;

  constructor(vm: VmApi) {
    this.#vm = vm;
    this.status = vm.config.status;
    // Which members query-status has is the schema's to say: 7.2 has `singlestep`, 10.0 dropped it.
    const singlestep = returnMembers(vm.machine.schema, "query-status").includes("singlestep");
    vm.command("query-status", () => ({
      status: this.status,
      ...(singlestep ? { singlestep: false } : {}),
      running: this.status === "running",
    }));
    vm.command("stop", () => this.stop());
    vm.command("cont", () => this.cont());
    vm.command("system_reset", () => this.reset());
    vm.command("system_powerdown", () => this.powerdown());
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
    vm.hmp(
      "system_reset",
      silently(() => this.reset()),
    );
    vm.hmp(
      "system_powerdown",
      silently(() => this.powerdown()),
    );
    vm.hmp("info status", () => `VM status: ${this.status}\r\n`);
  }

  /** Pauses the guest; a second stop changes nothing and sends no event, as in QEMU. */
  stop(): void {
    if (this.status !== "running") return;
    this.status = "paused";
    this.#vm.emit("STOP");
  }

  /** Resumes the guest, or refuses when QEMU needs a reset first. */
  cont(): void {
    if (NEEDS_RESET.has(this.status)) {
      throw new QmpCommandError("GenericError", "Resetting the Virtual Machine is required");
    }
    if (this.status === "running") return;
    this.status = "running";
    this.#vm.emit("RESUME");
  }

  /** A host-requested reset. */
  reset(): void {
    this.#vm.emit("RESET", { guest: false, reason: "host-qmp-system-reset" });
  }

  /** An ACPI power button press. */
  powerdown(): void {
    this.#vm.emit("POWERDOWN");
  }
}

/** The member names of what `command` returns, from the machine's schema ([] when it is not an object). */
function returnMembers(schema: readonly SchemaEntry[], command: string): string[] {
  const entry = schema.find((e) => e.name === command && e["meta-type"] === "command");
  const ret = entry === undefined ? undefined : (entry as { "ret-type"?: string })["ret-type"];
  const type = schema.find((e) => e.name === ret);
  const members = (type as { members?: { name: string }[] } | undefined)?.members;
  return members?.map((m) => m.name) ?? [];
}
