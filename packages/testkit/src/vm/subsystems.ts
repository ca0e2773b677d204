/**
 * The VM's subsystems. Each is built on first use (see `SubsystemProvides`); this order is the one a full build
 * makes them in: where two register the same command the later one wins, and without a schema `query-commands`
 * lists in it. Add yours here and its declaration to `provides.ts` (see README.md); a subsystem that needs a
 * sibling gets it with `vm.get(Sibling)` whatever the order.
 *
 * A subsystem's module is `require`d when the subsystem is first built, and `bun build --splitting` makes each
 * required module a chunk that loads then: a fake that answers `query-status` evaluates the run state and the HMP
 * registry, not the two thirds of the fake's code that define the others. `test/vm/lazy-build.test.ts` checks it.
 */
import { Hmp } from "./hmp.ts";
import { PROVIDES } from "./provides.ts";
import { Runstate } from "./runstate.ts";
import type { SubsystemEntry } from "./types.ts";

// Every fake meets the HMP registry (the others register into it) and the run state (`fake.status`): imported.

const HMP: SubsystemEntry<Hmp> = {
  name: "Hmp",
  provides: PROVIDES.hmp,
  load: () => Hmp,
};

const PROBE: SubsystemEntry = {
  name: "Probe",
  provides: PROVIDES.probe,
  load: () => (require("./probe.ts") as typeof import("./probe.ts")).Probe,
};

const RUNSTATE: SubsystemEntry<Runstate> = {
  name: "Runstate",
  provides: PROVIDES.runstate,
  load: () => Runstate,
};

const IDENTITY: SubsystemEntry = {
  name: "Identity",
  provides: PROVIDES.identity,
  load: () => (require("./identity.ts") as typeof import("./identity.ts")).Identity,
};

const YANK: SubsystemEntry = {
  name: "Yank",
  provides: PROVIDES.yank,
  load: () => (require("./yank.ts") as typeof import("./yank.ts")).Yank,
};

/** The outgoing migration (`fake.migration`). */
export const MIGRATION: SubsystemEntry<import("./migration.ts").Migration> = {
  name: "Migration",
  provides: PROVIDES.migration,
  load: () => (require("./migration.ts") as typeof import("./migration.ts")).Migration,
};

const QOM: SubsystemEntry = {
  name: "Qom",
  provides: PROVIDES.qom,
  load: () => (require("./devices/qom.ts") as typeof import("./devices/qom.ts")).Qom,
};

const CPUS: SubsystemEntry = {
  name: "Cpus",
  provides: PROVIDES.cpus,
  load: () => (require("./devices/cpus.ts") as typeof import("./devices/cpus.ts")).Cpus,
};

const DEVICES: SubsystemEntry = {
  name: "Devices",
  provides: PROVIDES.devices,
  load: () => (require("./devices/devices.ts") as typeof import("./devices/devices.ts")).Devices,
};

/** The guest OS a test plays (`fake.guest`). */
export const GUEST: SubsystemEntry<import("./guest.ts").Guest> = {
  name: "Guest",
  provides: PROVIDES.guest,
  load: () => (require("./guest.ts") as typeof import("./guest.ts")).Guest,
};

const OBJECTS: SubsystemEntry = {
  name: "Objects",
  provides: PROVIDES.objects,
  load: () => (require("./objects.ts") as typeof import("./objects.ts")).Objects,
};

const SECRETS: SubsystemEntry = {
  name: "Secrets",
  provides: PROVIDES.secrets,
  load: () => (require("./registries/secrets.ts") as typeof import("./registries/secrets.ts")).Secrets,
};

const THROTTLE_GROUPS: SubsystemEntry = {
  name: "ThrottleGroups",
  provides: PROVIDES.throttleGroups,
  load: () =>
    (require("./block/throttle-groups.ts") as typeof import("./block/throttle-groups.ts")).ThrottleGroups,
};

const BLOCK: SubsystemEntry = {
  name: "Block",
  provides: PROVIDES.block,
  load: () => (require("./block/block.ts") as typeof import("./block/block.ts")).Block,
};

const JOBS: SubsystemEntry = {
  name: "Jobs",
  provides: PROVIDES.jobs,
  load: () => (require("./block/jobs.ts") as typeof import("./block/jobs.ts")).Jobs,
};

const BLOCK_JOBS: SubsystemEntry = {
  name: "BlockJobs",
  provides: PROVIDES.blockJobs,
  load: () => (require("./block/block-jobs.ts") as typeof import("./block/block-jobs.ts")).BlockJobs,
};

const BITMAPS: SubsystemEntry = {
  name: "Bitmaps",
  provides: PROVIDES.bitmaps,
  load: () => (require("./block/bitmaps.ts") as typeof import("./block/bitmaps.ts")).Bitmaps,
};

const BLOCK_STATS: SubsystemEntry = {
  name: "BlockStats",
  provides: PROVIDES.blockStats,
  load: () => (require("./block/blockstats.ts") as typeof import("./block/blockstats.ts")).BlockStats,
};

/** The command line's `-drive`s (the emulator's start-up). */
export const DRIVES: SubsystemEntry<import("./block/drives.ts").Drives> = {
  name: "Drives",
  provides: PROVIDES.drives,
  load: () => (require("./block/drives.ts") as typeof import("./block/drives.ts")).Drives,
};

const IOTHREADS: SubsystemEntry = {
  name: "Iothreads",
  provides: PROVIDES.iothreads,
  load: () => (require("./registries/iothreads.ts") as typeof import("./registries/iothreads.ts")).Iothreads,
};

const NETDEVS: SubsystemEntry = {
  name: "Netdevs",
  provides: PROVIDES.netdevs,
  load: () => (require("./registries/netdevs.ts") as typeof import("./registries/netdevs.ts")).Netdevs,
};

/** The chardevs, closed with the fake. */
export const CHARDEVS: SubsystemEntry<import("./registries/chardevs.ts").Chardevs> = {
  name: "Chardevs",
  provides: PROVIDES.chardevs,
  load: () => (require("./registries/chardevs.ts") as typeof import("./registries/chardevs.ts")).Chardevs,
};

const FDS: SubsystemEntry = {
  name: "Fds",
  provides: PROVIDES.fds,
  load: () => (require("./registries/fds.ts") as typeof import("./registries/fds.ts")).Fds,
};

const BALLOON: SubsystemEntry = {
  name: "Balloon",
  provides: PROVIDES.balloon,
  load: () => (require("./registries/balloon.ts") as typeof import("./registries/balloon.ts")).Balloon,
};

const DUMP: SubsystemEntry = {
  name: "Dump",
  provides: PROVIDES.dump,
  load: () => (require("./registries/dump.ts") as typeof import("./registries/dump.ts")).Dump,
};

const DISPLAY: SubsystemEntry = {
  name: "Display",
  provides: PROVIDES.display,
  load: () => (require("./registries/display.ts") as typeof import("./registries/display.ts")).Display,
};

export const SUBSYSTEMS: readonly SubsystemEntry[] = [
  HMP,
  PROBE,
  RUNSTATE,
  IDENTITY,
  YANK,
  MIGRATION,
  QOM,
  CPUS,
  DEVICES,
  GUEST,
  OBJECTS,
  SECRETS,
  THROTTLE_GROUPS,
  BLOCK,
  JOBS,
  BLOCK_JOBS,
  BITMAPS,
  BLOCK_STATS,
  DRIVES,
  IOTHREADS,
  NETDEVS,
  CHARDEVS,
  FDS,
  BALLOON,
  DUMP,
  DISPLAY,
];
