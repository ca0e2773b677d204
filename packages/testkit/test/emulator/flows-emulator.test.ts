/**
 * The contract flows (test/contract/flows) on the emulator launched exactly as the flows launch real QEMU q35
 * (`startQemu` with the flow's command line: `-machine q35,accel=tcg -m 256 …`, `-S`, `-no-shutdown`,
 * `-incoming defer`, `-device …`), only the binary differs: each transcript must equal real QEMU's recorded
 * one — 7.2's for the emulator as it starts by default, 10.0's for the emulator told `QMPKIT_FAKE_QEMU_VERSION=10.0`
 * (the 10.0 fixtures are held to the real QEMU 10.0 by contract-flows.test.ts). The flows the in-process fake does
 * not pass yet (FAKE_PENDING, and FAKE_PENDING_10 for 10.0) are todos here too.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { QemuRelease } from "../../src/index.ts";
import { pendingOnFake } from "../contract/fake-pending.ts";
import { readFixture, runNormalised } from "../contract/flow-session.ts";
import { FLOWS } from "../contract/flows/index.ts";
import { stepLine } from "../contract/normalise.ts";
import { emulatorBinary } from "./emulator-binary.ts";

for (const qemuVersion of ["7.2", "10.0"] as const satisfies readonly QemuRelease[]) {
  const binary = emulatorBinary(qemuVersion === "7.2" ? undefined : qemuVersion);
  afterAll(() => binary[Symbol.dispose]());

  describe(`flows on the emulator launched as qemu-system-x86_64 equal real QEMU ${qemuVersion} q35`, () => {
    for (const flow of FLOWS) {
      const pending = pendingOnFake(flow.name, qemuVersion);
      if (pending !== undefined) {
        test.todo(`${flow.name}: pending in the fake (${pending})`);
        continue;
      }
      test(`${flow.name}: ${flow.description}`, async () => {
        const expected = await readFixture(flow, `qemu-${qemuVersion}`);
        if (expected === undefined) throw new Error(`no recorded ${qemuVersion} transcript for ${flow.name}`);
        const actual = await runNormalised(flow, "qemu", { qemuBinary: binary.path });
        expect(actual.map(stepLine)).toEqual(expected);
      }, 120_000);
    }
  });
}
