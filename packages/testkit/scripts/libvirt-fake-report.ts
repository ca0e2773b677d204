#!/usr/bin/env bun
/**
 * Runs the libvirt scenario on the fake emulator (or any --emulator) and prints how it differs from real QEMU's
 * recorded fixture: each differing step with its first differing lines, the QMP commands libvirt sent to one and
 * not the other, then, per monitor, the first QMP exchange whose command or reply differs from the recorded trace
 * (libvirt probes the fake more often on a host with /dev/kvm, which shifts the monitor numbers). A report, not a
 * test (test/libvirt/libvirt.test.ts is the test): it exits 0 whatever it finds.
 *
 *   bun packages/testkit/scripts/libvirt-fake-report.ts [--emulator PATH] [--timeout-ms 120000] [--script JSON]
 *     [--qemu-version 10.0]   (the fake as QEMU 10.0, compared with real QEMU 10.0's recording)
 *
 * --script bakes a QMPKIT_FAKE_QEMU_SCRIPT into the emulator link (libvirt scrubs the emulator's environment).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { emulatorLink } from "../test/libvirt/fake-emulator.ts";
import { FIXTURE_DIR, libvirtFixtures } from "../test/libvirt/fixture-paths.ts";
import {
  commandSet,
  commandsSent,
  exchangesOn,
  parseMonitorLog,
  type TraceEntry,
  traceFromJsonl,
} from "../test/libvirt/monitor-trace.ts";
import { differingSteps, normaliseRun, stepsFromText } from "../test/libvirt/normalise.ts";
import { runScenario } from "../test/libvirt/scenario.ts";

const { values } = parseArgs({
  options: {
    emulator: { type: "string" },
    "timeout-ms": { type: "string", default: "120000" },
    script: { type: "string" },
    "qemu-version": { type: "string", default: "7.2" },
  },
});
const qemuVersion = values["qemu-version"];
if (qemuVersion !== "7.2" && qemuVersion !== "10.0")
  throw new Error(`--qemu-version is 7.2 or 10.0, not ${qemuVersion}`);
const { steps: STEPS_FIXTURE, trace: TRACE_FIXTURE } = libvirtFixtures(qemuVersion);

const linkDir = mkdtempSync(join(tmpdir(), "qmpkit-fake-emulator-"));
try {
  const emulator =
    values.emulator ??
    emulatorLink(linkDir, {
      qemuVersion,
      env: values.script === undefined ? {} : { QMPKIT_FAKE_QEMU_SCRIPT: values.script },
    });
  const run = await runScenario(emulator, { timeoutMs: Number(values["timeout-ms"]) });
  const expected = stepsFromText(await Bun.file(join(FIXTURE_DIR, STEPS_FIXTURE)).text());
  const actual = normaliseRun(run);
  const differing = differingSteps(expected, actual);
  console.log(`${emulator}: ${(run.durationMs / 1000).toFixed(1)} s, virsh exit ${run.exitCode}`);
  console.log(
    `${differing.length} of ${Object.keys(expected).length} steps differ from real QEMU ${qemuVersion}\n`,
  );
  for (const name of differing) {
    console.log(name);
    const want = (expected[name] ?? "(missing)").split("\n");
    const got = (actual[name] ?? "(missing)").split("\n");
    const at = want.findIndex((line, i) => line !== got[i]);
    const from = at < 0 ? want.length : at;
    console.log(`      real: ${JSON.stringify(want.slice(from, from + 2))}`);
    console.log(`      fake: ${JSON.stringify(got.slice(from, from + 2))}`);
  }
  const recorded = traceFromJsonl(await Bun.file(join(FIXTURE_DIR, TRACE_FIXTURE)).text());
  const trace = parseMonitorLog(run.monitorLog, { [run.dir]: "$DIR", [run.emulator]: "$EMULATOR" });
  const wanted = commandSet(commandsSent(recorded));
  const sent = commandSet(commandsSent(trace));
  const missing = wanted.filter((c) => !sent.includes(c));
  const extra = sent.filter((c) => !wanted.includes(c));
  console.log(`\nQMP commands libvirt sent: ${missing.length} missing, ${extra.length} extra, vs real QEMU`);
  for (const c of missing) console.log(`  missing: ${c.slice(0, 200)}`);
  for (const c of extra) console.log(`  extra:   ${c.slice(0, 200)}`);
  const opening = (entries: readonly TraceEntry[]) =>
    [...new Set(entries.flatMap((e) => ("monitor" in e ? [e.monitor] : [])))].map(
      (m) => exchanges(entries, m)[1]?.send.slice(0, 60) ?? "(none)",
    );
  console.log(`monitors' second commands, QEMU: ${JSON.stringify(opening(recorded))}`);
  console.log(`monitors' second commands, fake: ${JSON.stringify(opening(trace))}`);
  console.log("\nFirst QMP difference per monitor (monitors numbered in opening order):");
  const monitors = new Set(recorded.flatMap((e) => ("monitor" in e ? [e.monitor] : [])));
  for (const monitor of monitors)
    console.log(`  monitor ${monitor}: ${firstDifference(recorded, trace, monitor)}`);
} finally {
  rmSync(linkDir, { recursive: true, force: true });
}

/** Each command the monitor was sent, with its reply (ids dropped: they are compared by position). */
function exchanges(trace: readonly TraceEntry[], monitor: number): { send: string; reply: string }[] {
  const withoutId = ({ id: _id, ...rest }: Record<string, unknown>) => JSON.stringify(rest);
  return exchangesOn(trace, monitor).map(({ send, reply }) => ({
    send: withoutId(send),
    reply: reply === undefined ? "(no reply)" : withoutId(reply),
  }));
}

function firstDifference(
  recorded: readonly TraceEntry[],
  trace: readonly TraceEntry[],
  monitor: number,
): string {
  const want = exchanges(recorded, monitor);
  const got = exchanges(trace, monitor);
  const cut = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}…` : text);
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = got[i];
    if (w === undefined) break;
    if (g === undefined) return `the fake's session ends after ${got.length} of ${want.length} commands`;
    if (w.send !== g.send)
      return `command ${i + 1}: libvirt sent ${cut(g.send)} where it sent ${cut(w.send)} to QEMU`;
    if (w.reply !== g.reply)
      return `command ${i + 1} ${cut(w.send)}\n      QEMU: ${cut(w.reply)}\n      fake: ${cut(g.reply)}`;
  }
  return got.length > want.length ? `${got.length - want.length} commands more than with QEMU` : "identical";
}
