/**
 * The fake against QEMU 7.2's recorded answers (fixtures/qemu-7.2-probes.json, written by
 * scripts/record-probes.ts): the same inputs must give the same reply lines, byte for byte, on any machine,
 * QEMU or not. A fresh fake per mode, as the recording used a fresh QEMU per mode.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createFakeQemu } from "../src/index.ts";
import { probeInputs, RawPeer } from "./helpers.ts";
import { INPUTS } from "./parser-inputs.ts";

interface Probes {
  qemu: string;
  inputs: string[];
  replies: { plain: string[][]; oob: string[][] };
}

const probes = (await Bun.file(
  join(import.meta.dir, "..", "fixtures", "qemu-7.2-probes.json"),
).json()) as Probes;
const TIMESTAMP = /"seconds": \d+, "microseconds": \d+/g;

describe("fake vs recorded QEMU 7.2 answers", () => {
  test("the recording covers the current input list (re-record after editing parser-inputs.ts)", () => {
    expect(probes.inputs).toEqual([...INPUTS]);
  });

  for (const mode of ["plain", "oob"] as const) {
    test(`every input gets QEMU's reply lines (${mode})`, async () => {
      await using fake = await createFakeQemu();
      const peer = await RawPeer.connect(fake.address);
      await peer.negotiate(mode === "oob");
      const ours = (await probeInputs(peer, probes.inputs)).map((lines) =>
        lines.map((line) => line.replace(TIMESTAMP, '"seconds": S, "microseconds": U')),
      );
      peer.end();
      const differences = probes.inputs
        .map((input, i) => ({ input, qemu: probes.replies[mode][i], fake: ours[i] }))
        .filter((d) => JSON.stringify(d.qemu) !== JSON.stringify(d.fake));
      expect(differences).toEqual([]);
    });
  }
});
