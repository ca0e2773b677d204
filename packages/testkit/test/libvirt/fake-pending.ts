/**
 * What stands between the fake emulator and real QEMU 7.2 in the libvirt scenario, as measured with
 * `bun packages/testkit/scripts/libvirt-fake-report.ts` (main at 4e366ce, 2026-12-06). Blockers are in the order
 * libvirt meets them. Fixed so far: the probe's `accel=kvm:tcg` fallback and the -daemonize child holding the
 * caller's stdio pipe (7300aa7), query-migrate-capabilities (57d3dca): the probe passes and `define` works.
 * The fake test requires exactly the steps of FAKE_PENDING to differ: when a step starts to match, add it to
 * FAKE_MATCHING (or rewrite the reasons below).
 */
import { LOG_STEP } from "./normalise.ts";
import { DOMAIN, PAUSED_DOMAIN, SCENARIO } from "./scenario.ts";

export const FAKE_BLOCKERS: readonly string[] = [
  "2 VM model: domain start stops at query-chardev (libvirt reads the pty paths from it); after it libvirt sends " +
    "query-hotpluggable-cpus, query-cpus-fast, qom-list + qom-get ×398 of the vCPU (modelled), query-iothreads, " +
    "balloon, query-balloon (not yet), query-named-block-nodes, query-block, cont (see fixtures/libvirt/README.md)",
];

/**
 * Steps not run on the fake while it cannot start a domain: virsh 9.0's `save` of a domain that is not running
 * fails, then polls the job every 0.5 s forever, so the session would only end at the timeout. They count as
 * differing (missing) until the fake starts domains; then drop them from here.
 */
export const FAKE_SKIPPED: ReadonlySet<string> = new Set([
  "save",
  "domstate after save",
  "restore",
  "domstate after restore",
  "domblklist after restore",
  "domiflist after restore",
]);

/** Steps whose output already equals real QEMU's (the fake test holds them to it). */
export const FAKE_MATCHING: ReadonlySet<string> = new Set([
  // The probe: since the fake lists `spice` once libvirt's qom-list-types loaded QEMU's modules.
  "domcapabilities",
  "define",
  // On the defined domain that failed to start: libvirt lists the configuration, as it lists the running one.
  "domblklist",
  "domiflist",
  "define paused domain",
]);

const NO_DOMAIN = "no running domain: start fails (blocker 2)";

/** Every step that differs today, with the reason. */
export const FAKE_PENDING: Readonly<Record<string, string>> = Object.fromEntries(
  [
    ...SCENARIO.map((step): [string, string] => {
      if (FAKE_SKIPPED.has(step.name)) return [step.name, "not run on the fake yet (FAKE_SKIPPED)"];
      if (step.name === "start" || step.name === "start --paused") return [step.name, "blocker 2"];
      return [step.name, NO_DOMAIN];
    }),
    [`${LOG_STEP}${DOMAIN}`, "the command line is built, the emulator's start fails (blocker 2)"] as [
      string,
      string,
    ],
    [`${LOG_STEP}${PAUSED_DOMAIN}`, "the command line is built, the emulator's start fails (blocker 2)"] as [
      string,
      string,
    ],
  ].filter(([name]) => !FAKE_MATCHING.has(name)),
);
