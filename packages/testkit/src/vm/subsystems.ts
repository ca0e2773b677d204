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
import type { SubsystemClass, SubsystemEntry, SubsystemProvides } from "./types.ts";

/** The other subsystems' classes: their modules are evaluated on the first call. */
const lazy = () => require("./lazy-subsystems.ts") as typeof import("./lazy-subsystems.ts");
type LazyName = keyof ReturnType<typeof lazy>;

/**
 * The `load` of every entry below but the two imported ones: the class that lazy-subsystems.ts exports under the
 * entry's name. One function for them all, called as the entry's method: a closure each was two dozen functions
 * for every fake to create at start-up, for the few entries it ever builds.
 */
function loadLazy<T extends object>(this: SubsystemEntry<T>): SubsystemClass<T> {
  return lazy()[this.name as LazyName] as unknown as SubsystemClass<T>;
}

/** An entry whose class lazy-subsystems.ts exports under `name`. */
function lazyEntry<T extends object = object>(
  name: LazyName,
  provides: SubsystemProvides,
): SubsystemEntry<T> {
  return { name, provides, load: loadLazy };
}

const HMP: SubsystemEntry<Hmp> = { name: "Hmp", provides: PROVIDES.hmp, load: () => Hmp };
const RUNSTATE: SubsystemEntry<Runstate> = {
  name: "Runstate",
  provides: PROVIDES.runstate,
  load: () => Runstate,
};

/** The outgoing migration (`fake.migration`). */
export const MIGRATION = lazyEntry<import("./migration.ts").Migration>("Migration", PROVIDES.migration);
/** The guest OS a test plays (`fake.guest`). */
export const GUEST = lazyEntry<import("./guest.ts").Guest>("Guest", PROVIDES.guest);
/** The command line's `-drive`s (the emulator's start-up). */
export const DRIVES = lazyEntry<import("./block/drives.ts").Drives>("Drives", PROVIDES.drives);
/** The chardevs, closed with the fake. */
export const CHARDEVS = lazyEntry<import("./registries/chardevs.ts").Chardevs>("Chardevs", PROVIDES.chardevs);

export const SUBSYSTEMS: readonly SubsystemEntry[] = [
  HMP,
  lazyEntry("Probe", PROVIDES.probe),
  RUNSTATE,
  lazyEntry("Identity", PROVIDES.identity),
  lazyEntry("Yank", PROVIDES.yank),
  MIGRATION,
  lazyEntry("Qom", PROVIDES.qom),
  lazyEntry("Cpus", PROVIDES.cpus),
  lazyEntry("Devices", PROVIDES.devices),
  GUEST,
  lazyEntry("Objects", PROVIDES.objects),
  lazyEntry("Secrets", PROVIDES.secrets),
  lazyEntry("ThrottleGroups", PROVIDES.throttleGroups),
  lazyEntry("Block", PROVIDES.block),
  lazyEntry("Jobs", PROVIDES.jobs),
  lazyEntry("BlockJobs", PROVIDES.blockJobs),
  lazyEntry("Bitmaps", PROVIDES.bitmaps),
  lazyEntry("BlockStats", PROVIDES.blockStats),
  DRIVES,
  lazyEntry("Iothreads", PROVIDES.iothreads),
  lazyEntry("Netdevs", PROVIDES.netdevs),
  CHARDEVS,
  lazyEntry("Fds", PROVIDES.fds),
  lazyEntry("Balloon", PROVIDES.balloon),
  lazyEntry("Dump", PROVIDES.dump),
  lazyEntry("Display", PROVIDES.display),
];
