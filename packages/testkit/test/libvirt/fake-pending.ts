/**
 * What stands between the fake emulator and real QEMU 7.2 in the libvirt scenario, as measured with
 * `bun packages/testkit/scripts/libvirt-fake-report.ts` (main at 7300aa7, 2026-12-06). Blockers are in the order
 * libvirt meets them; the later ones were found by getting past the earlier ones in a scratch copy (canned
 * replies through the script the emulator link carries). Fixed so far: the probe's `accel=kvm:tcg` fallback and
 * the -daemonize child holding the caller's stdio pipe (7300aa7).
 * The fake test requires exactly the steps of FAKE_PENDING to differ: fix one, delete its entry.
 */
import { LOG_STEP } from "./normalise.ts";
import { DOMAIN, PAUSED_DOMAIN, SCENARIO } from "./scenario.ts";

export const FAKE_BLOCKERS: readonly string[] = [
  "1 VM model: query-migrate-capabilities is not implemented; libvirt's probe needs it (then query-sev/sgx-" +
    "capabilities: 'KVM not enabled' / 'SGX is not enabled in KVM', and query-cpu-model-expansion of host ×3)",
  "2 profile: query-command-line-options has 35 groups, QEMU 36 under libvirt's probe options (no `spice`), so " +
    "domcapabilities' graphics enum lacks spice",
  "3 VM model: domain start needs migrate-set-capabilities, query-chardev (with the pty paths), " +
    "query-hotpluggable-cpus, query-cpus-fast, qom-list + qom-get ×398 of the vCPU, query-iothreads, balloon, " +
    "query-balloon: none is implemented yet (query-named-block-nodes and query-block are)",
];

const PROBE = "the capability probe fails (blocker 1)";
const NO_DOMAIN = "no domain to act on: the probe fails, so define and start do (blockers 1, 3)";

/** Every step that differs today, with the reason. */
export const FAKE_PENDING: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    SCENARIO.map((step) => {
      if (step.name === "domcapabilities") return [step.name, `${PROBE}; then blocker 2`];
      if (step.name.startsWith("define")) return [step.name, PROBE];
      if (step.name === "start" || step.name === "start --paused") return [step.name, "blocker 3"];
      return [step.name, NO_DOMAIN];
    }),
  ),
  [`${LOG_STEP}${DOMAIN}`]: "no log: the domain never starts",
  [`${LOG_STEP}${PAUSED_DOMAIN}`]: "no log: the domain never starts",
};
