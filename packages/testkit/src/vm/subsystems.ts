/**
 * The VM's subsystems. Each is built on first use (see `SubsystemProvides`); this order is the one a full build
 * makes them in: where two register the same command the later one wins, and without a schema `query-commands`
 * lists in it. Add yours here (see README.md); a subsystem that needs a sibling gets it with `vm.get(Sibling)`
 * whatever the order.
 */
import { Bitmaps } from "./block/bitmaps.ts";
import { Block } from "./block/block.ts";
import { BlockJobs } from "./block/block-jobs.ts";
import { BlockStats } from "./block/blockstats.ts";
import { Drives } from "./block/drives.ts";
import { Jobs } from "./block/jobs.ts";
import { ThrottleGroups } from "./block/throttle-groups.ts";
import { Cpus } from "./devices/cpus.ts";
import { Devices } from "./devices/devices.ts";
import { Qom } from "./devices/qom.ts";
import { Guest } from "./guest.ts";
import { Hmp } from "./hmp.ts";
import { Identity } from "./identity.ts";
import { Migration } from "./migration.ts";
import { Objects } from "./objects.ts";
import { Probe } from "./probe.ts";
import { Balloon } from "./registries/balloon.ts";
import { Chardevs } from "./registries/chardevs.ts";
import { Display } from "./registries/display.ts";
import { Dump } from "./registries/dump.ts";
import { Fds } from "./registries/fds.ts";
import { Iothreads } from "./registries/iothreads.ts";
import { Netdevs } from "./registries/netdevs.ts";
import { Secrets } from "./registries/secrets.ts";
import { Runstate } from "./runstate.ts";
import type { SubsystemClass } from "./types.ts";
import { Yank } from "./yank.ts";

export const SUBSYSTEMS: readonly SubsystemClass[] = [
  Hmp,
  Probe,
  Runstate,
  Identity,
  Yank,
  Migration,
  Qom,
  Cpus,
  Devices,
  Guest,
  Objects,
  Secrets,
  ThrottleGroups,
  Block,
  Jobs,
  BlockJobs,
  Bitmaps,
  BlockStats,
  Drives,
  Iothreads,
  Netdevs,
  Chardevs,
  Fds,
  Balloon,
  Dump,
  Display,
];
