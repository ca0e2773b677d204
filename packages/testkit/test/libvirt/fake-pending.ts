/**
 * What stands between the fake emulator and real QEMU 7.2 in the libvirt scenario, as measured with
 * `bun packages/testkit/scripts/libvirt-fake-report.ts` (main at b2b6340, 2026-12-06). Blockers are in the order
 * libvirt meets them; each later one was found by getting past the earlier ones in a scratch copy.
 * The fake test stays a todo while blocker 2 stands (libvirt then waits forever for the probe); once it can run,
 * it requires exactly the steps of FAKE_PENDING to differ: fix one, delete its entry.
 */
import { LOG_STEP } from "./normalise.ts";
import { DOMAIN, PAUSED_DOMAIN, SCENARIO } from "./scenario.ts";

export const FAKE_BLOCKERS: readonly string[] = [
  "1 emulator: libvirt probes with `-machine none,accel=kvm:tcg`; without /dev/kvm QEMU prints 'failed to " +
    "initialize kvm' + 'falling back to tcg' and runs, the fake exits 1 (validate.ts requires every listed accel)",
  "2 emulator: the -daemonize child keeps the caller's stdout/stderr pipe open (Bun holds duplicates of fds 1 " +
    "and 2, e.g. fds 6 and 7; dup2 onto 0-2 does not close them); libvirt reads the probe's output to EOF and hangs",
  "3 VM model: query-migrate-capabilities is not implemented; libvirt's probe needs it (then query-sev/sgx-" +
    "capabilities: 'KVM not enabled' / 'SGX is not enabled in KVM', and query-cpu-model-expansion of host ×3)",
  "4 profile: query-command-line-options has 35 groups, QEMU 36 under libvirt's probe options (no `spice`), so " +
    "domcapabilities' graphics enum lacks spice",
  "5 VM model: domain start needs migrate-set-capabilities, query-chardev (with the pty paths), " +
    "query-hotpluggable-cpus, query-cpus-fast, qom-list + qom-get ×398 of the vCPU, query-iothreads, balloon, " +
    "query-balloon: none is implemented yet (query-named-block-nodes and query-block are)",
];

const PROBE = "the capability probe fails (blockers 1-3)";
const NO_DOMAIN = "no domain to act on: the probe fails, so define and start do (blockers 1-3, 5)";

/** Every step that differs today, with the reason. */
export const FAKE_PENDING: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    SCENARIO.map((step) => {
      if (step.name === "domcapabilities") return [step.name, `${PROBE}; then blocker 4`];
      if (step.name.startsWith("define")) return [step.name, PROBE];
      if (step.name === "start" || step.name === "start --paused") return [step.name, "blocker 5"];
      return [step.name, NO_DOMAIN];
    }),
  ),
  [`${LOG_STEP}${DOMAIN}`]: "no log: the domain never starts",
  [`${LOG_STEP}${PAUSED_DOMAIN}`]: "no log: the domain never starts",
};
