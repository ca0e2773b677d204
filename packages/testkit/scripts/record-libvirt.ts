#!/usr/bin/env bun
/**
 * Records the libvirt scenario (test/libvirt/scenario.ts) against real QEMU into fixtures/libvirt/: the
 * normalised output of every virsh step, and libvirt's QMP traffic condensed. It runs the scenario twice and
 * writes nothing unless both runs agree on every step's output and on the set of commands libvirt sent, which is
 * what makes the fixture fit to hold the fake to. (The exact sequence may differ by a command: libvirt handles
 * some events in a worker thread, racing the next step; see fixtures/libvirt/README.md.)
 *
 *   bun packages/testkit/scripts/record-libvirt.ts [--qemu /usr/bin/qemu-system-x86_64] [--runs 2]
 *   bun packages/testkit/scripts/record-libvirt.ts --qemu-version 10.0   # the Debian 13 tree's QEMU 10.0
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { qemu10Binary } from "../src/index.ts";
import { FIXTURE_DIR, libvirtFixtures } from "../test/libvirt/fixture-paths.ts";
import {
  commandCounts,
  commandSet,
  commandsSent,
  parseMonitorLog,
  traceToJsonl,
} from "../test/libvirt/monitor-trace.ts";
import { differingSteps, normaliseRun, stepsToText } from "../test/libvirt/normalise.ts";
import { runScenario } from "../test/libvirt/scenario.ts";

const { values } = parseArgs({
  options: {
    qemu: { type: "string" },
    "qemu-version": { type: "string", default: "7.2" },
    runs: { type: "string", default: "2" },
  },
});
const qemuVersion = values["qemu-version"];
if (qemuVersion !== "7.2" && qemuVersion !== "10.0")
  throw new Error(`--qemu-version is 7.2 or 10.0, not ${qemuVersion}`);
const emulator = values.qemu ?? (qemuVersion === "10.0" ? qemu10Binary() : "/usr/bin/qemu-system-x86_64");
const { steps: STEPS_FIXTURE, trace: TRACE_FIXTURE } = libvirtFixtures(qemuVersion);
const runs = Number(values.runs);

let first: { steps: Record<string, string>; commands: string[]; jsonl: string } | undefined;
for (let i = 1; i <= runs; i++) {
  const run = await runScenario(emulator);
  const steps = normaliseRun(run);
  const trace = parseMonitorLog(run.monitorLog, { [run.dir]: "$DIR", [run.emulator]: "$EMULATOR" });
  const commands = commandsSent(trace);
  console.log(
    `run ${i}: ${(run.durationMs / 1000).toFixed(1)} s, virsh exit ${run.exitCode}, ${commands.length} commands`,
  );
  if (first === undefined) {
    first = { steps, commands, jsonl: traceToJsonl(trace) };
    continue;
  }
  const differing = differingSteps(first.steps, steps);
  const sameCommandSet = JSON.stringify(commandSet(first.commands)) === JSON.stringify(commandSet(commands));
  if (differing.length > 0 || !sameCommandSet) {
    console.error(
      `run ${i} differs from run 1: steps [${differing.join(", ")}], same command set: ${sameCommandSet}`,
    );
    process.exit(1);
  }
  if (commands.length !== first.commands.length) {
    const counts = (list: string[]) =>
      list.reduce((m, c) => m.set(c, (m.get(c) ?? 0) + 1), new Map<string, number>());
    const a = counts(first.commands);
    const b = counts(commands);
    for (const [name, n] of a)
      if (b.get(name) !== n) console.log(`  ${name}: run 1 sent ${n}, run ${i} ${b.get(name)}`);
  }
}
if (first === undefined) throw new Error("--runs must be at least 1");

mkdirSync(FIXTURE_DIR, { recursive: true });
await Bun.write(join(FIXTURE_DIR, STEPS_FIXTURE), stepsToText(first.steps));
await Bun.write(join(FIXTURE_DIR, TRACE_FIXTURE), first.jsonl);
console.log(`wrote ${STEPS_FIXTURE} (${Object.keys(first.steps).length} steps) and ${TRACE_FIXTURE}`);
const trace = first.jsonl;
console.log(`${first.commands.length} commands sent; per command:`);
for (const [name, count] of commandCounts(
  trace
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l)),
)) {
  console.log(`  ${String(count).padStart(4)}  ${name}`);
}
