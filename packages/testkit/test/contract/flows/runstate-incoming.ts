/**
 * A VM started with `-incoming defer`, as the destination of a migration is: it sits in `inmigrate`, and `cont`
 * there is accepted but does nothing until the migration has arrived.
 */
import { cmd, type Flow, hmp } from "./flow.ts";

export const runstateIncoming: Flow = {
  name: "runstate-incoming",
  description: "inmigrate: query-status, info status, cont that changes nothing, stop",
  vm: { incomingDefer: true },
  steps: () => [
    cmd("query-status"),
    hmp("info status"),
    cmd("cont"),
    cmd("query-status"),
    hmp("info status"),
    cmd("stop"),
    cmd("query-status"),
    cmd("cont"),
    cmd("query-status"),
    cmd("query-migrate"),
    cmd("system_reset"),
    cmd("query-status"),
  ],
};
