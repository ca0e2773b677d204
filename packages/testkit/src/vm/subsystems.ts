/**
 * The VM's subsystems. Each is built on first use (see `SubsystemProvides`); this order is the one a full build
 * makes them in: where two register the same command the later one wins, and without a schema `query-commands`
 * lists in it. Add yours here, its class to `lazy-subsystems.ts` and its declaration to `provides.ts` (see
 * README.md); a subsystem that needs a sibling gets it with `vm.get(Sibling)` whatever the order.
 *
 * Only the HMP registry and the run state are imported. The other modules are `require`d, all together, when the
 * first of their subsystems is built, and `bun build --splitting` makes them a chunk loaded then: a fake that
 * answers `query-status` does not evaluate the two thirds of the fake's code that define them.
 * `test/vm/lazy-build.test.ts` checks both.
 */
import { Hmp } from "./hmp.ts";
import { PROVIDES } from "./provides.ts";
import { Runstate } from "./runstate.ts";
import type { SubsystemClass, SubsystemEntry } from "./types.ts";

/** The other subsystems' classes: their modules are evaluated on the first call. */
const lazy = () => require("./lazy-subsystems.ts") as typeof import("./lazy-subsystems.ts");

/**
 * The `load` of every entry below but the two imported ones: the class that lazy-subsystems.ts exports under the
 * entry's name. One function for them all, called as the entry's method: a closure each was two dozen functions
 * for every fake to create at start-up, for the few entries it ever builds.
 */
function loadLazy<T extends object>(this: SubsystemEntry<T>): SubsystemClass<T> {
  return lazy()[this.name as keyof ReturnType<typeof lazy>] as unknown as SubsystemClass<T>;
}

const HMP: SubsystemEntry<Hmp> = {
  name: "Hmp",
  provides: PROVIDES.hmp,
  load: () => Hmp,
};

const PROBE: SubsystemEntry = {
  name: "Probe",
  provides: PROVIDES.probe,
  load: loadLazy,
};

const RUNSTATE: SubsystemEntry<Runstate> = {
  name: "Runstate",
  provides: PROVIDES.runstate,
  load: () => Runstate,
};

const IDENTITY: SubsystemEntry = {
  name: "Identity",
  provides: PROVIDES.identity,
  load: loadLazy,
};

const YANK: SubsystemEntry = {
  name: "Yank",
  provides: PROVIDES.yank,
  load: loadLazy,
};

/** The outgoing migration (`fake.migration`). */
export const MIGRATION: SubsystemEntry<import("./migration.ts").Migration> = {
  name: "Migration",
  provides: PROVIDES.migration,
  load: loadLazy,
};

const QOM: SubsystemEntry = {
  name: "Qom",
  provides: PROVIDES.qom,
  load: loadLazy,
};

const CPUS: SubsystemEntry = {
  name: "Cpus",
  provides: PROVIDES.cpus,
  load: loadLazy,
};

const DEVICES: SubsystemEntry = {
  name: "Devices",
  provides: PROVIDES.devices,
  load: loadLazy,
};

/** The guest OS a test plays (`fake.guest`). */
export const GUEST: SubsystemEntry<import("./guest.ts").Guest> = {
  name: "Guest",
  provides: PROVIDES.guest,
  load: loadLazy,
};

const OBJECTS: SubsystemEntry = {
  name: "Objects",
  provides: PROVIDES.objects,
  load: loadLazy,
};

const SECRETS: SubsystemEntry = {
  name: "Secrets",
  provides: PROVIDES.secrets,
  load: loadLazy,
};

const THROTTLE_GROUPS: SubsystemEntry = {
  name: "ThrottleGroups",
  provides: PROVIDES.throttleGroups,
  load: loadLazy,
};

const BLOCK: SubsystemEntry = {
  name: "Block",
  provides: PROVIDES.block,
  load: loadLazy,
};

const JOBS: SubsystemEntry = {
  name: "Jobs",
  provides: PROVIDES.jobs,
  load: loadLazy,
};

const BLOCK_JOBS: SubsystemEntry = {
  name: "BlockJobs",
  provides: PROVIDES.blockJobs,
  load: loadLazy,
};

const BITMAPS: SubsystemEntry = {
  name: "Bitmaps",
  provides: PROVIDES.bitmaps,
  load: loadLazy,
};

const BLOCK_STATS: SubsystemEntry = {
  name: "BlockStats",
  provides: PROVIDES.blockStats,
  load: loadLazy,
};

/** The command line's `-drive`s (the emulator's start-up). */
export const DRIVES: SubsystemEntry<import("./block/drives.ts").Drives> = {
  name: "Drives",
  provides: PROVIDES.drives,
  load: loadLazy,
};

const IOTHREADS: SubsystemEntry = {
  name: "Iothreads",
  provides: PROVIDES.iothreads,
  load: loadLazy,
};

const NETDEVS: SubsystemEntry = {
  name: "Netdevs",
  provides: PROVIDES.netdevs,
  load: loadLazy,
};

/** The chardevs, closed with the fake. */
export const CHARDEVS: SubsystemEntry<import("./registries/chardevs.ts").Chardevs> = {
  name: "Chardevs",
  provides: PROVIDES.chardevs,
  load: loadLazy,
};

const FDS: SubsystemEntry = {
  name: "Fds",
  provides: PROVIDES.fds,
  load: loadLazy,
};

const BALLOON: SubsystemEntry = {
  name: "Balloon",
  provides: PROVIDES.balloon,
  load: loadLazy,
};

const DUMP: SubsystemEntry = {
  name: "Dump",
  provides: PROVIDES.dump,
  load: loadLazy,
};

const DISPLAY: SubsystemEntry = {
  name: "Display",
  provides: PROVIDES.display,
  load: loadLazy,
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
