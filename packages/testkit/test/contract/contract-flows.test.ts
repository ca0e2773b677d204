/**
 * The flows of the contract suite (flows/*.ts): each runs live on a real QEMU 7.2 q35, whose normalised
 * transcript must equal the recorded fixture (fixtures/flows/qemu-7.2/q35), and on the fake, whose transcript
 * must equal the same fixture, step for step, message for message. Regenerate the fixtures with
 * `bun packages/testkit/scripts/record-flows.ts`. The same flows run on the Debian 13 tree's QEMU 10.0 against
 * fixtures/flows/qemu-10.0/q35 (`record-flows.ts --qemu-version 10.0`).
 */
import { describe, expect, test } from "bun:test";
import {
  type QemuRelease,
  requireQemu,
  requireQemu10,
  skipWithoutQemu,
  skipWithoutQemu10,
} from "../../src/index.ts";
import { FAKE_PENDING, FAKE_PENDING_10, pendingOnFake } from "./fake-pending.ts";
import { fixturePath, readFixture, reconcileLateReplies, runNormalised } from "./flow-session.ts";
import type { Flow } from "./flows/flow.ts";
import { FLOWS } from "./flows/index.ts";
import { stepLine } from "./normalise.ts";

const FLOW_BOUND_MS = 120_000;

async function expectFixture(
  flow: Flow,
  actual: Awaited<ReturnType<typeof runNormalised>>,
  qemuVersion: QemuRelease = "7.2",
): Promise<void> {
  const expected = await readFixture(flow, `qemu-${qemuVersion}`);
  if (expected === undefined)
    throw new Error(`no fixture at ${fixturePath(flow, `qemu-${qemuVersion}`)}: run scripts/record-flows.ts`);
  // Line by line, so a failure shows the first differing step as text.
  expect(reconcileLateReplies(actual.map(stepLine), expected)).toEqual(expected);
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
      const pending = pendingOnFake(flow.name, qemuVersion);
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
