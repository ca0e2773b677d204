#!/usr/bin/env bun
/**
 * Records what real QEMU answers to each input of test/parser-inputs.ts (with and without oob) into
 * fixtures/qemu-7.2-probes.json, so parser-fixture.test.ts can hold the fake to QEMU's answers on machines
 * without QEMU. parser-differential.test.ts does the same comparison live when QEMU is present.
 *
 *   bun packages/testkit/scripts/record-probes.ts [--qemu BINARY]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { spawnQemu } from "../src/spawn-qemu.ts";
import { probeInputs, RawPeer } from "../test/helpers.ts";
import { INPUTS } from "../test/parser-inputs.ts";

const { values } = parseArgs({ options: { qemu: { type: "string" } } });
const TIMESTAMP = /"seconds": \d+, "microseconds": \d+/g;

async function probe(oob: boolean): Promise<string[][]> {
  await using qemu = await spawnQemu(values.qemu === undefined ? {} : { binary: values.qemu });
  const peer = await RawPeer.connect(qemu.address);
  await peer.negotiate(oob);
  const results = await probeInputs(peer, INPUTS);
  peer.end();
  return results.map((lines) =>
    lines.map((line) => line.replace(TIMESTAMP, '"seconds": S, "microseconds": U')),
  );
}

const version = (await Bun.$`${values.qemu ?? "qemu-system-x86_64"} --version`.text()).split("\n")[0];
const fixture = {
  qemu: version,
  inputs: INPUTS,
  replies: { plain: await probe(false), oob: await probe(true) },
};
const file = join(import.meta.dir, "..", "fixtures", "qemu-7.2-probes.json");
await Bun.write(file, `${JSON.stringify(fixture, null, 1)}\n`);
console.log(`wrote ${file}: ${INPUTS.length} inputs x 2 modes`);
