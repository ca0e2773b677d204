/**
 * Migration. For now only what QEMU answers when no migration ever ran: no status, and the postcopy recovery
 * commands refuse.
 */
import { QmpCommandError } from "../errors.ts";
import type { VmApi } from "./types.ts";

/** Migration state and commands. */
export class Migration {
  constructor(vm: VmApi) {
    // No migration has run: QEMU reports no status at all.
    vm.command("query-migrate", () => ({}));
    vm.command("migrate-pause", () => {
      throw new QmpCommandError(
        "GenericError",
        "migrate-pause is currently only supported during postcopy-active state",
      );
    });
    vm.command("migrate-recover", () => {
      throw new QmpCommandError("GenericError", "Migrate recover can only be run when postcopy is paused.");
    });
  }
}
