/**
 * The destination side of a migration as a VM manager prepares it: QEMU started with `-incoming defer`, the
 * events capability on, then `migrate-incoming` on a unix socket, which starts listening and waits for a source
 * that (in this flow) never comes; what the VM reports meanwhile, and the refusals of a second start.
 */
import { cmd, type Flow, hmp } from "./flow.ts";

export const migrationIncoming: Flow = {
  name: "migration-incoming",
  description: "-incoming defer: migrate-incoming on a unix socket, query-migrate while listening, refusals",
  vm: { incomingDefer: true },
  steps: ({ dir }) => [
    cmd("query-migrate"),
    cmd("migrate-set-capabilities", { capabilities: [{ capability: "events", state: true }] }),
    cmd("migrate-incoming", { uri: "no-such-transport:x" }),
    cmd("query-migrate"),
    cmd("migrate-incoming", { uri: `unix:${dir}/incoming.sock` }),
    cmd("query-migrate"),
    cmd("query-status"),
    hmp("info status"),
    cmd("migrate-incoming", { uri: `unix:${dir}/incoming2.sock` }),
    cmd("migrate-set-capabilities", { capabilities: [{ capability: "events", state: false }] }),
    cmd("migrate", { uri: `exec:cat > ${dir}/out.mig` }),
    cmd("migrate_cancel"),
    cmd("cont"),
    cmd("query-status"),
  ],
};
