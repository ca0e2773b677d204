#!/usr/bin/env bun
/**
 * Records what real QEMU does when an outgoing migration's destination stops reading (the cases of
 * `test/vm/migration-failure.ts`): the events, `query-migrate` and `query-status` after, and QEMU's stderr. Each
 * case runs twice and must give the same outcome (a case that varies cannot be replayed). Written to
 * fixtures/qemu-<version>-migration-failure.json (stderr: the lines both runs printed; whether QEMU also says
 * `failed to save SaveStateEntry` depends on which thread meets the broken pipe first), which `test/vm/migration-failure.test.ts` replays on the fake.
 *
 *   bun packages/testkit/scripts/record-migration-failure.ts [--qemu-version 7.2|10.0]
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connect } from "@qmpkit/qmp";
import { type QemuRelease, spawnQemu } from "../src/index.ts";
import { FAILURE_CASES, type FailureOutcome, runFailure } from "../test/vm/migration-failure.ts";

const { values } = parseArgs({ options: { "qemu-version": { type: "string", default: "7.2" } } });
const requested = values["qemu-version"];
if (requested !== "7.2" && requested !== "10.0") {
  console.error(`--qemu-version must be 7.2 or 10.0, not ${requested}`);
  process.exit(2);
}
const qemuVersion: QemuRelease = requested;

async function once(index: number): Promise<FailureOutcome & { stderr: string }> {
  const failure = FAILURE_CASES[index];
  if (failure === undefined) throw new Error(`no case ${index}`);
  await using qemu = await spawnQemu({
    qemuVersion,
    args: ["-machine", "q35,accel=tcg", "-m", "256", "-nodefaults", "-display", "none", "-S"],
  });
  const client = await connect(qemu.address);
  try {
    const outcome = await runFailure(client, failure, () => Bun.sleep(25));
    return { ...outcome, stderr: qemu.stderr() };
  } finally {
    await client.disconnect().catch(() => {});
  }
}

const record: Record<string, FailureOutcome & { stderr: string }> = {};
let failed = false;
for (const [index, failure] of FAILURE_CASES.entries()) {
  const first = await once(index);
  const second = await once(index);
  const { stderr: firstErr, ...firstRest } = first;
  const { stderr: secondErr, ...secondRest } = second;
  if (JSON.stringify(firstRest) !== JSON.stringify(secondRest)) {
    failed = true;
    console.error(
      `${failure.name}: NOT the same twice\n  ${JSON.stringify(first)}\n  ${JSON.stringify(second)}`,
    );
    continue;
  }
  const common = secondErr.split("\n").filter((line) => line !== "");
  const stderr = firstErr
    .split("\n")
    .filter((line) => line !== "" && common.includes(line))
    .map((line) => `${line}\n`)
    .join("");
  record[failure.name] = { ...firstRest, stderr };
  console.log(
    `${failure.name}: ${first.events.map(([name, data]) => `${name} ${JSON.stringify(data)}`).join(", ")}`,
  );
}
if (failed) process.exit(1);
const file = join(import.meta.dir, "..", "fixtures", `qemu-${qemuVersion}-migration-failure.json`);
writeFileSync(file, `${JSON.stringify(record, null, 1)}\n`);
console.log(`wrote ${file}`);
