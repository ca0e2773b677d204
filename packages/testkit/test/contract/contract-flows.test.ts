/**
 * The flows of the contract suite (flows/*.ts): each runs live on a real QEMU 7.2 q35, whose normalised
 * transcript must equal the recorded fixture (fixtures/flows/qemu-7.2/q35), and on the fake, whose transcript
 * must equal the same fixture, step for step, message for message. Regenerate the fixtures with
 * `bun packages/testkit/scripts/record-flows.ts`. The same flows run on the Debian 13 tree's QEMU 10.0 against
 * fixtures/flows/qemu-10.0/q35 (`record-flows.ts --qemu-version 10.0`).
 */
import { describe, expect, test } from "bun:test";
import {
  type QemuVersion,
  requireQemu,
  requireQemu10,
  skipWithoutQemu,
  skipWithoutQemu10,
} from "../../src/index.ts";
import { fixturePath, readFixture, runNormalised } from "./flow-session.ts";
import type { Flow } from "./flows/flow.ts";
import { FLOWS } from "./flows/index.ts";
import { stepLine } from "./normalise.ts";

/**
 * The flows the fake does not reproduce yet, each with what is missing. This is the only place a flow may be
 * excused; remove an entry as soon as the fake passes it (`bun run fidelity` shows how far each one gets).
 */
export const FAKE_PENDING: Readonly<Record<string, string>> = {
  block:
    "the block model passes its steps; object-add (throttle-group) and device_add (a disk on a root port from " +
    "the command line) wait for the registries and devices subsystems",
  devices: "no QOM tree, root ports, device_add/device_del or query-pci",
  migration: "no migration model",
  "migration-incoming": "no migrate-incoming (listening on a socket, MIGRATION setup, its refusals)",
  registries: "no object/netdev/chardev/fd registries, balloon, dump-guest-memory or screendump",
  probe:
    "query-command-line-options lacks `spice`, which QEMU lists once device-list-properties of qxl has loaded " +
    "the spice module; query-migrate-capabilities not modelled",
  startup: "no q35 vCPU QOM properties, chardev list, balloon or block listing",
};

/**
 * Flows the fake passes as 7.2 but not yet as 10.0 (`createFakeQemu({ qemuVersion: "10.0" })` against the 10.0
 * fixtures), with what differs. A flow pending on 7.2 is pending on 10.0 too.
 */
export const FAKE_PENDING_10: Readonly<Record<string, string>> = {};

const FLOW_BOUND_MS = 120_000;

async function expectFixture(
  flow: Flow,
  actual: Awaited<ReturnType<typeof runNormalised>>,
  qemuVersion: QemuVersion = "7.2",
): Promise<void> {
  const expected = await readFixture(flow, `qemu-${qemuVersion}`);
  if (expected === undefined)
    throw new Error(`no fixture at ${fixturePath(flow, `qemu-${qemuVersion}`)}: run scripts/record-flows.ts`);
  // Line by line, so a failure shows the first differing step as text.
  expect(actual.map(stepLine)).toEqual(expected);
}

describe.skipIf(skipWithoutQemu())("flows on real QEMU 7.2 q35 equal the recorded fixtures", () => {
  for (const flow of FLOWS) {
    test(
      `${flow.name}: ${flow.description}`,
      async () => {
        requireQemu();
        await expectFixture(flow, await runNormalised(flow, "qemu"));
      },
      FLOW_BOUND_MS,
    );
  }
});

describe.skipIf(skipWithoutQemu10())("flows on real QEMU 10.0 q35 equal the recorded 10.0 fixtures", () => {
  for (const flow of FLOWS) {
    test(
      `${flow.name}: ${flow.description}`,
      async () => {
        requireQemu10();
        await expectFixture(flow, await runNormalised(flow, "qemu", { qemuVersion: "10.0" }), "10.0");
      },
      FLOW_BOUND_MS,
    );
  }
});

for (const qemuVersion of ["7.2", "10.0"] as const) {
  describe(`flows on the fake equal real QEMU ${qemuVersion} q35`, () => {
    for (const flow of FLOWS) {
      const pending =
        FAKE_PENDING[flow.name] ?? (qemuVersion === "10.0" ? FAKE_PENDING_10[flow.name] : undefined);
      if (pending !== undefined) {
        test.todo(`${flow.name}: pending in the fake (${pending})`);
        continue;
      }
      test(
        `${flow.name}: ${flow.description}`,
        async () => {
          await expectFixture(flow, await runNormalised(flow, "fake", { qemuVersion }), qemuVersion);
        },
        FLOW_BOUND_MS,
      );
    }
  });
}

test("every FAKE_PENDING and FAKE_PENDING_10 entry names an existing flow", () => {
  const names = new Set(FLOWS.map((flow) => flow.name));
  const listed = [...Object.keys(FAKE_PENDING), ...Object.keys(FAKE_PENDING_10)];
  expect(listed.filter((name) => !names.has(name))).toEqual([]);
});
