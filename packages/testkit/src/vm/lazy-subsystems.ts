/**
 * The classes of the subsystems whose modules a fake does not evaluate at start (all but the HMP registry and the
 * run state, which every fake imports), in one module that the list in `subsystems.ts` requires when it first
 * builds one of them. `bun build --splitting` makes it one chunk: a chunk of its own per subsystem cost the
 * compiled CLI more in chunk loads than it saved (`exec --fake query-status` went from -0.8 ms to about nothing,
 * with 27 modules loaded instead of 21).
 */
export { Bitmaps } from "./block/bitmaps.ts";
export { Block } from "./block/block.ts";
export { BlockJobs } from "./block/block-jobs.ts";
export { BlockStats } from "./block/blockstats.ts";
export { Drives } from "./block/drives.ts";
export { Jobs } from "./block/jobs.ts";
export { ThrottleGroups } from "./block/throttle-groups.ts";
export { Cpus } from "./devices/cpus.ts";
export { Devices } from "./devices/devices.ts";
export { Qom } from "./devices/qom.ts";
export { Guest } from "./guest.ts";
export { Identity } from "./identity.ts";
export { Migration } from "./migration.ts";
export { Objects } from "./objects.ts";
export { Probe } from "./probe.ts";
export { Balloon } from "./registries/balloon.ts";
export { Chardevs } from "./registries/chardevs.ts";
export { Display } from "./registries/display.ts";
export { Dump } from "./registries/dump.ts";
export { Fds } from "./registries/fds.ts";
export { Iothreads } from "./registries/iothreads.ts";
export { Netdevs } from "./registries/netdevs.ts";
export { Secrets } from "./registries/secrets.ts";
export { Yank } from "./yank.ts";
