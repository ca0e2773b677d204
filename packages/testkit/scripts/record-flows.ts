#!/usr/bin/env bun
/**
 * Records each contract flow against real QEMU twice, checks that the two normalised transcripts are identical
 * (a flow that is not deterministic on QEMU cannot be a contract), and writes the transcript to
 * fixtures/flows/qemu-7.2/q35/<flow>.jsonl.
 *
 *   bun packages/testkit/scripts/record-flows.ts [--qemu BINARY] [--version-dir qemu-7.2] [FLOW...]
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { compareSteps, fixturePath, runNormalised } from "../test/contract/flow-session.ts";
import { FLOWS } from "../test/contract/flows/index.ts";
import { transcriptText } from "../test/contract/normalise.ts";

const { values, positionals } = parseArgs({
  options: { qemu: { type: "string" }, "version-dir": { type: "string", default: "qemu-7.2" } },
  allowPositionals: true,
});
const selected = positionals.length === 0 ? FLOWS : FLOWS.filter((flow) => positionals.includes(flow.name));
const options = values.qemu === undefined ? {} : { qemuBinary: values.qemu };
let failed = false;
for (const flow of selected) {
  const first = await runNormalised(flow, "qemu", options);
  const second = await runNormalised(flow, "qemu", options);
  const comparison = compareSteps(first, second);
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
  const file = fixturePath(flow, values["version-dir"]);
  mkdirSync(dirname(file), { recursive: true });
  await Bun.write(file, transcriptText(first));
  console.log(`${flow.name}: ${first.length - 1} steps, identical twice -> ${file}`);
}
process.exit(failed ? 1 : 0);
