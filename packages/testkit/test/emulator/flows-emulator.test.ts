/**
 * The contract flows (test/contract/flows) on the emulator launched exactly as the flows launch real QEMU 7.2
 * q35 (`startQemu` with the flow's command line: `-machine q35,accel=tcg -m 256 …`, `-S`, `-no-shutdown`,
 * `-incoming defer`, `-device …`), only the binary differs: each transcript must equal real QEMU's recorded
 * one. The flows the in-process fake does not pass yet (FAKE_PENDING) are todos here too.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { FAKE_PENDING } from "../contract/fake-pending.ts";
import { readFixture, runNormalised } from "../contract/flow-session.ts";
import { FLOWS } from "../contract/flows/index.ts";
import { stepLine } from "../contract/normalise.ts";
import { emulatorBinary } from "./emulator-binary.ts";

const binary = emulatorBinary();
afterAll(() => binary[Symbol.dispose]());

describe("flows on the emulator launched as qemu-system-x86_64 equal real QEMU 7.2 q35", () => {
  for (const flow of FLOWS) {
    const pending = FAKE_PENDING[flow.name];
    if (pending !== undefined) {
      test.todo(`${flow.name}: pending in the fake (${pending})`);
      continue;
    }
    test(`${flow.name}: ${flow.description}`, async () => {
      const expected = await readFixture(flow, "qemu-7.2");
      if (expected === undefined) throw new Error(`no recorded transcript for ${flow.name}`);
      const actual = await runNormalised(flow, "qemu", { qemuBinary: binary.path });
      expect(actual.map(stepLine)).toEqual(expected);
    }, 120_000);
  }
});
