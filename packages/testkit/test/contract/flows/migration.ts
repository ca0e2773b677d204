/**
 * An outgoing migration as a VM manager runs one: capabilities and parameters set, a slow migration watched and
 * cancelled, then a fast one to a file that completes, leaving the VM in `postmigrate` where a second migrate is
 * refused until the VM runs again.
 */
import { cmd, cmdUntil, type Flow, hmp, waitFor, waitForData } from "./flow.ts";

export const migration: Flow = {
  name: "migration",
  description:
    "capabilities/parameters, migrate + query-migrate + migrate_cancel, migrate to completion, postmigrate",
  vm: { startPaused: true },
  steps: ({ dir }) => [
    cmd("query-migrate-capabilities"),
    cmd("migrate-set-capabilities", { capabilities: [{ capability: "events", state: true }] }),
    cmd("migrate-set-capabilities", { capabilities: [{ capability: "no-such-capability", state: true }] }),
    cmd("query-migrate-parameters"),
    cmd("migrate-set-parameters", { "max-bandwidth": 1048576 }),
    cmd("query-migrate"),
    cmd("cont"),
    cmd("migrate", { uri: `exec:cat > ${dir}/cancelled.mig` }),
    // The first pass starts, then the migration reports itself active.
    waitFor("MIGRATION"),
    cmd("query-migrate"),
    cmd("migrate", { uri: `exec:cat > ${dir}/second.mig` }),
    cmd("migrate_cancel"),
    waitFor("MIGRATION", 1),
    cmd("query-status"),
    // Slow enough that the first pass spans QEMU's 100 ms bandwidth window, and a downtime limit so large that the
    // rest then goes in one stop: the passes are always 1, 2, STOP, 3 (a faster migration races that window).
    cmd("migrate-set-parameters", { "max-bandwidth": 4194304, "downtime-limit": 2000000 }),
    cmd("migrate", { uri: `exec:cat > ${dir}/done.mig` }),
    // Until it completes: 7.2 gets there through active, 10.0 through active and device.
    waitForData("MIGRATION", { status: "completed" }),
    cmd("query-migrate"),
    // QEMU enters postmigrate a moment after announcing completed, with no event (seen on 10.0, and on 7.2 in one
    // run of six): poll for it as a VM manager would.
    cmdUntil("query-status", { status: "postmigrate" }),
    hmp("info status"),
    cmd("migrate", { uri: `exec:cat > ${dir}/again.mig` }),
    cmd("migrate_cancel"),
    cmd("cont"),
    cmd("query-status"),
  ],
};
