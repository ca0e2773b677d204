/**
 * The fake's input parser and dispatcher against real QEMU, input by input: odd JSON, QEMU's extensions, every
 * dispatch check. Each input is followed by a sync command so the replies it caused can be told apart. The
 * comparison is on the exact reply lines (bytes, key order, CRLF), with event timestamps masked.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createFakeQemu, type FakeQemu } from "../src/index.ts";
import { type QemuProcess, requireQemu, skipWithoutQemu, spawnQemu } from "../src/spawn-qemu.ts";
import { probeInputs, RawPeer } from "./helpers.ts";
import { INPUTS } from "./parser-inputs.ts";

function normalise(line: string): string {
  return line.replace(/"seconds": \d+, "microseconds": \d+/g, '"seconds": S, "microseconds": U');
}

async function run(address: string, oob: boolean): Promise<string[][]> {
  const peer = await RawPeer.connect(address);
  try {
    await peer.negotiate(oob);
    return (await probeInputs(peer, INPUTS)).map((lines) => lines.map(normalise));
  } finally {
    peer.end();
  }
}

describe.skipIf(skipWithoutQemu())("fake vs real QEMU 7.2: input parsing and dispatch", () => {
  let qemu: QemuProcess | undefined;
  let fake: FakeQemu | undefined;
  beforeAll(async () => {
    requireQemu();
    qemu = await spawnQemu();
    fake = await createFakeQemu({ multiClient: true });
  });
  afterAll(async () => {
    await qemu?.[Symbol.asyncDispose]();
    await fake?.close();
  });

  for (const oob of [false, true]) {
    test(`every input gets the same reply lines as QEMU (oob ${oob ? "on" : "off"})`, async () => {
      const real = await run((qemu as QemuProcess).address, oob);
      const ours = await run((fake as FakeQemu).address, oob);
      const differences = INPUTS.map((input, i) => ({ input, real: real[i], fake: ours[i] })).filter(
        (d) => JSON.stringify(d.real) !== JSON.stringify(d.fake),
      );
      expect(differences).toEqual([]);
    });
  }
});
