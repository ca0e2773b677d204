/**
 * libvirt 9.0, the most demanding QMP client there is, drives q35 domains through its embedded driver (no
 * daemon): the scenario of scenario.ts against real QEMU 7.2 must reproduce the recorded fixture, and against
 * the fake emulator it must give the very same output. Skipped without virsh, except under CI=true.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { qemu10Binary, requireQemu, requireQemu10, skipWithoutQemu10 } from "../../src/index.ts";
import type { QemuRelease } from "../../src/qemu-10.ts";
import { emulatorLink } from "./fake-emulator.ts";
import { FIXTURE_DIR, libvirtFixtures, STEPS_FIXTURE } from "./fixture-paths.ts";
import { commandSet, commandsSent, parseMonitorLog, traceFromJsonl } from "./monitor-trace.ts";
import { differingSteps, LOG_STEP, normaliseRun, stepsFromText } from "./normalise.ts";
import { DOMAIN, hasVirsh, PAUSED_DOMAIN, runScenario, SCENARIO, type ScenarioRun } from "./scenario.ts";

const REAL_QEMU = "/usr/bin/qemu-system-x86_64";
// The scenario takes ~10–15 s on real QEMU on a quiet 2-core machine; the bound only stops a hung libvirt.
const SCENARIO_TIMEOUT_MS = 240_000;

function skipWithoutVirsh(): boolean {
  return !hasVirsh() && process.env.CI !== "true";
}

function requireVirsh(): void {
  if (!hasVirsh()) {
    throw new Error(
      "virsh is not installed (CI=true requires it: apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)",
    );
  }
  // libvirt's privileged driver looks its packaged default user up before it reads qemu.conf's user = "root".
  if (Bun.spawnSync(["getent", "passwd", "libvirt-qemu"]).exitCode !== 0) {
    throw new Error(
      "libvirt needs the user libvirt-qemu to exist (.ci/run creates it: useradd --system libvirt-qemu)",
    );
  }
}

async function fixtureSteps(): Promise<Record<string, string>> {
  return stepsFromText(await Bun.file(join(FIXTURE_DIR, STEPS_FIXTURE)).text());
}

/** Every step and domain log of `run` equals QEMU `qemuVersion`'s recording, and so does the set of QMP commands. */
async function expectAsRecorded(run: ScenarioRun, qemuVersion: QemuRelease): Promise<void> {
  const files = libvirtFixtures(qemuVersion);
  const expected = stepsFromText(await Bun.file(join(FIXTURE_DIR, files.steps)).text());
  const actual = normaliseRun(run);
  // Named first, so a failure says which steps differ before the full diff.
  expect(differingSteps(expected, actual)).toEqual([]);
  expect(actual).toEqual(expected);
  const trace = parseMonitorLog(run.monitorLog, { [run.dir]: "$DIR", [run.emulator]: "$EMULATOR" });
  const recorded = traceFromJsonl(await Bun.file(join(FIXTURE_DIR, files.trace)).text());
  expect(commandSet(commandsSent(trace))).toEqual(commandSet(commandsSent(recorded)));
}

describe("the libvirt fixture", () => {
  test("has every scenario step, in order, then the two domains' logs, and nothing else", async () => {
    expect(Object.keys(await fixtureSteps())).toEqual([
      ...SCENARIO.map((s) => s.name),
      `${LOG_STEP}${DOMAIN}`,
      `${LOG_STEP}${PAUSED_DOMAIN}`,
    ]);
  });
});

describe.skipIf(skipWithoutVirsh())("libvirt scenario on real QEMU 7.2", () => {
  test(
    "every virsh step's output equals the recorded fixture, and libvirt sends the recorded set of QMP commands",
    async () => {
      requireVirsh();
      requireQemu(REAL_QEMU);
      await expectAsRecorded(await runScenario(REAL_QEMU, { timeoutMs: SCENARIO_TIMEOUT_MS }), "7.2");
    },
    SCENARIO_TIMEOUT_MS + 10_000,
  );
});

// libvirt 9.0 (Debian 12) drives QEMU 10.0 (Debian 13) through the whole scenario and sends the same set of
// commands; 6 of the 60 steps differ from 7.2 (domcapabilities, the live XML's machine type, query-status
// without singlestep, a reply id, the domain logs' command lines).
describe.skipIf(skipWithoutVirsh() || skipWithoutQemu10())("libvirt scenario on real QEMU 10.0", () => {
  test(
    "every virsh step's output equals the recorded 10.0 fixture, with the recorded set of QMP commands",
    async () => {
      requireVirsh();
      requireQemu10();
      await expectAsRecorded(await runScenario(qemu10Binary(), { timeoutMs: SCENARIO_TIMEOUT_MS }), "10.0");
    },
    SCENARIO_TIMEOUT_MS + 10_000,
  );
});

// The fake emulator as each generation, against that generation's recording of real QEMU: every step's output,
// both domain logs (the command lines libvirt built from the fake's answers), and the set of QMP commands libvirt
// sent (a sequence would differ run to run even on real QEMU: see fixtures/libvirt/README.md).
describe.each(["7.2", "10.0"] as const)(
  "libvirt scenario on the fake emulator as QEMU %s (qmpkit fake-qemu as qemu-system-x86_64)",
  (qemuVersion) => {
    test.skipIf(skipWithoutVirsh())(
      "every virsh step's output and domain log equals real QEMU's recorded fixture, with its set of QMP commands",
      async () => {
        requireVirsh();
        const linkDir = mkdtempSync(join(tmpdir(), "qmpkit-fake-emulator-"));
        try {
          const emulator = emulatorLink(linkDir, { qemuVersion });
          await expectAsRecorded(
            await runScenario(emulator, { timeoutMs: SCENARIO_TIMEOUT_MS }),
            qemuVersion,
          );
        } finally {
          rmSync(linkDir, { recursive: true, force: true });
        }
      },
      SCENARIO_TIMEOUT_MS + 10_000,
    );
  },
);

// With a guest that acknowledges unplugs (the emulator's script), a PCIe NIC's detach completes as it would under
// a guest OS: DEVICE_DELETED comes, libvirt drops the NIC from the live domain, and virsh prints what it prints
// when QEMU completes an unplug (the README of fixtures/libvirt says what "identical" means here).
describe.each(["7.2", "10.0"] as const)(
  "libvirt on the fake emulator as QEMU %s, the guest acknowledging unplugs",
  (qemuVersion) => {
    test.skipIf(skipWithoutVirsh())(
      "detach-device of a NIC from the running domain completes: domiflist is as before the attach",
      async () => {
        requireVirsh();
        const linkDir = mkdtempSync(join(tmpdir(), "qmpkit-fake-emulator-"));
        try {
          const script = JSON.stringify({ version: 1, guest: { acknowledgeUnplugs: true } });
          const emulator = emulatorLink(linkDir, { qemuVersion, env: { QMPKIT_FAKE_QEMU_SCRIPT: script } });
          const byName = new Map(SCENARIO.map((s) => [s.name, s]));
          const named = (name: string) => byName.get(name) as (typeof SCENARIO)[number];
          const steps = [
            ...["define", "start", "domiflist", "attach-device nic", "domiflist after attach"].map(named),
            { name: "detach-device nic", args: ["detach-device", DOMAIN, "$DIR/nic.xml", "--live"] },
            { name: "domiflist after nic detach", args: ["domiflist", DOMAIN] },
            named("destroy"),
          ];
          const run = await runScenario(emulator, { steps, timeoutMs: SCENARIO_TIMEOUT_MS });
          const actual = normaliseRun(run);
          const recorded = stepsFromText(
            await Bun.file(join(FIXTURE_DIR, libvirtFixtures(qemuVersion).steps)).text(),
          );
          const expected: Record<string, string | undefined> = {
            ...Object.fromEntries(
              ["define", "start", "domiflist", "attach-device nic", "domiflist after attach"].map((n) => [
                n,
                recorded[n],
              ]),
            ),
            "detach-device nic": recorded["detach-device nic from paused domain"],
            "domiflist after nic detach": recorded.domiflist,
            destroy: recorded.destroy,
          };
          const { [`${LOG_STEP}${DOMAIN}`]: _log, ...stepsOnly } = actual;
          expect(stepsOnly as Record<string, string | undefined>).toEqual(expected);
        } finally {
          rmSync(linkDir, { recursive: true, force: true });
        }
      },
      SCENARIO_TIMEOUT_MS + 10_000,
    );
  },
);
