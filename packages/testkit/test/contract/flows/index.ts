/** Every flow of the contract suite, in the order the fixtures and the fidelity report list them. */
import { block } from "./block.ts";
import { devices } from "./devices.ts";
import type { Flow } from "./flow.ts";
import { jobsMirror } from "./jobs-mirror.ts";
import { jobsOthers } from "./jobs-others.ts";
import { migration } from "./migration.ts";
import { migrationIncoming } from "./migration-incoming.ts";
import { probe } from "./probe.ts";
import { registries } from "./registries.ts";
import { runstate } from "./runstate.ts";
import { runstateIncoming } from "./runstate-incoming.ts";
import { runstateShutdown } from "./runstate-shutdown.ts";
import { startup } from "./startup.ts";

export const FLOWS: readonly Flow[] = [
  runstate,
  runstateShutdown,
  runstateIncoming,
  devices,
  block,
  jobsMirror,
  jobsOthers,
  migration,
  migrationIncoming,
  registries,
  probe,
  startup,
];
