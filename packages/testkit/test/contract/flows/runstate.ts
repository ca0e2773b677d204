/**
 * Run states as a VM manager walks them: QEMU started with -S (prelaunch), resumed, paused, reset while running,
 * reset while paused (back to prelaunch), a powerdown request nobody answers (no guest OS), and HMP's
 * `info status` in each state. The VM is paused right after the reset while running: SeaBIOS answers a reset
 * by resetting the machine again by itself once or twice (it varies run to run), which a flow cannot pin down.
 */
import { cmd, type Flow, hmp } from "./flow.ts";

export const runstate: Flow = {
  name: "runstate",
  description: "prelaunch -> running -> paused -> running, resets while running and paused, powerdown",
  vm: { startPaused: true },
  steps: () => [
    cmd("query-status"),
    hmp("info status"),
    cmd("cont"),
    cmd("query-status"),
    hmp("info status"),
    cmd("stop"),
    cmd("query-status"),
    hmp("info status"),
    // A second stop or cont changes nothing and says nothing.
    cmd("stop"),
    cmd("cont"),
    cmd("cont"),
    cmd("system_powerdown"),
    cmd("query-status"),
    cmd("system_wakeup"),
    cmd("system_reset"),
    cmd("stop"),
    cmd("query-status"),
    hmp("info status"),
    cmd("system_reset"),
    cmd("query-status"),
    hmp("info status"),
    cmd("system_reset"),
    cmd("query-status"),
    hmp("c"),
    hmp("info status"),
    hmp("stop"),
    hmp("info status"),
    hmp("system_reset"),
    cmd("query-status"),
  ],
};
