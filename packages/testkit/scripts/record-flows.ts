#!/usr/bin/env bun
/**
 * Records each contract flow against real QEMU twice, checks that the two normalised transcripts are identical
 * (a flow that is not deterministic on QEMU cannot be a contract), and writes the transcript to
 * fixtures/flows/qemu-7.2/q35/<flow>.jsonl.
 *
 *   bun packages/testkit/scripts/record-flows.ts [--qemu BINARY] [--version-dir qemu-7.2] [FLOW...]
 *   bun packages/testkit/scripts/record-flows.ts --qemu-version 10.0 [FLOW...]   (the Debian 13 tree's QEMU,
 *     written to fixtures/flows/qemu-10.0/)
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import type { QemuRelease } from "../src/index.ts";
import { compareSteps, fixturePath, runNormalised } from "../test/contract/flow-session.ts";
import { FLOWS } from "../test/contract/flows/index.ts";
import { stepLine, transcriptText } from "../test/contract/normalise.ts";

const { values, positionals } = parseArgs({
  options: {
    qemu: { type: "string" },
    "qemu-version": { type: "string" },
    "version-dir": { type: "string" },
  },
  allowPositionals: true,
});
const selected = positionals.length === 0 ? FLOWS : FLOWS.filter((flow) => positionals.includes(flow.name));
const requested = values["qemu-version"];
if (requested !== undefined && requested !== "7.2" && requested !== "10.0") {
  console.error(`--qemu-version must be 7.2 or 10.0, not ${requested}`);
  process.exit(2);
}
const qemuVersion: QemuRelease | undefined = requested;
const versionDir = values["version-dir"] ?? `qemu-${qemuVersion ?? "7.2"}`;
const options = {
  ...(values.qemu === undefined ? {} : { qemuBinary: values.qemu }),
  ...(qemuVersion === undefined ? {} : { qemuVersion }),
};
let failed = false;
for (const flow of selected) {
  const first = await runNormalised(flow, "qemu", options);
  const second = await runNormalised(flow, "qemu", options);
  const comparison = compareSteps(first.map(stepLine), second.map(stepLine));
  const incomplete = first.filter((step) => step.incomplete !== undefined).map((step) => step.step);
  if (comparison.firstDifference !== undefined || incomplete.length > 0) {
    failed = true;
    console.error(
      `${flow.name}: NOT deterministic or incomplete (incomplete steps: ${incomplete.join(", ")})`,
    );
    if (comparison.firstDifference !== undefined) {
      console.error(`  run 1: ${comparison.firstDifference.expected.slice(0, 2000)}`);
      console.error(`  run 2: ${comparison.firstDifference.actual.slice(0, 2000)}`);
    }
    continue;
  }
  const file = fixturePath(flow, versionDir);
  mkdirSync(dirname(file), { recursive: true });
  await Bun.write(file, transcriptText(first));
  console.log(`${flow.name}: ${first.length - 1} steps, identical twice -> ${file}`);
}
process.exit(failed ? 1 : 0);
