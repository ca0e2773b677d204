/**
 * `-no-shutdown` with `-no-reboot`, as a VM manager that wants to see a reboot uses them: a reset request becomes
 * a shutdown, and the VM pauses in `shutdown` instead of QEMU exiting, until it is reset.
 */
import { cmd, type Flow, hmp } from "./flow.ts";

export const runstateShutdown: Flow = {
  name: "runstate-shutdown",
  description: "-no-shutdown -no-reboot: reset becomes shutdown, the VM waits in `shutdown`, cont refused",
  vm: { startPaused: true, noShutdown: true, noReboot: true },
  steps: () => [
    cmd("query-status"),
    cmd("cont"),
    cmd("system_reset"),
    cmd("query-status"),
    hmp("info status"),
    cmd("cont"),
    cmd("stop"),
    cmd("query-status"),
    cmd("system_reset"),
    cmd("query-status"),
    hmp("info status"),
    cmd("cont"),
    cmd("query-status"),
  ],
};
