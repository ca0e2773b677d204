#!/usr/bin/env bun
/**
 * `bun run fidelity`: how many steps of each contract flow the fake answers exactly as real QEMU does (after
 * normalisation), per flow and in total, with the first differing step of each flow. Like the bench, it prints
 * numbers and is not a test. One column per QEMU version with recorded fixtures (fixtures/flows/<version>/q35);
 * a version whose binary is present is run live, otherwise the fake is compared with the fixture, and the column
 * header says which.
 *
 *   bun run fidelity [FLOW...]
 */
import { existsSync, readdirSync } from "node:fs";
import { hasQemu, hasQemu10, type QemuRelease } from "../packages/testkit/src/index.ts";
import {
  compareSteps,
  FIXTURE_ROOT,
  readFixture,
  reconcileLateReplies,
  runNormalised,
} from "../packages/testkit/test/contract/flow-session.ts";
import { FLOWS } from "../packages/testkit/test/contract/flows/index.ts";
import { stepLine } from "../packages/testkit/test/contract/normalise.ts";

/** How each fixture directory's QEMU is run live; others (or an absent QEMU) are compared with the fixture. */
const LIVE: Readonly<Record<string, { qemuVersion: QemuRelease; present: () => boolean }>> = {
  "qemu-7.2": { qemuVersion: "7.2", present: () => hasQemu() },
  "qemu-10.0": { qemuVersion: "10.0", present: () => hasQemu10() },
};
/** A fake that never sends an awaited event costs this much per wait step, not the flow's full bound. */
const FAKE_MAX_WAIT_MS = 2000;
const SHOWN_CHARS = 240;
/** How much of the shared text is shown before the first differing character. */
const CONTEXT_CHARS = 60;

/**
 * Both lines cut to the same window, starting a little before their first differing character: a difference deep
 * in a long reply (a schema, a help text) is then on screen, not cut off after a shared prefix.
 */
function aroundFirstDifference(expected: string, actual: string): [string, string] {
  let at = 0;
  while (at < expected.length && at < actual.length && expected[at] === actual[at]) at++;
  const start = at < SHOWN_CHARS - CONTEXT_CHARS ? 0 : at - CONTEXT_CHARS;
  const cut = (text: string) =>
    `${start > 0 ? `…(${start} chars) ` : ""}${text.slice(start, start + SHOWN_CHARS)}`;
  return [cut(expected), cut(actual)];
}

const selected = process.argv.length > 2 ? FLOWS.filter((f) => process.argv.includes(f.name)) : FLOWS;
const versions = existsSync(FIXTURE_ROOT)
  ? readdirSync(FIXTURE_ROOT, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort((a, b) => a.localeCompare(b, "en", { numeric: true }))
  : [];
const columns = versions.map((version) => {
  const live = LIVE[version];
  return { version, qemuVersion: live?.qemuVersion, live: live?.present() === true };
});

interface Cell {
  identical: number;
  total: number;
  difference?: string;
}
const rows: { flow: string; cells: (Cell | undefined)[] }[] = [];
for (const flow of selected) {
  const cells: (Cell | undefined)[] = [];
  for (const column of columns) {
    // The fake answers as the column's QEMU version where it knows that version, as 7.2 otherwise.
    const fake = await runNormalised(flow, "fake", {
      maxWaitMs: FAKE_MAX_WAIT_MS,
      ...(column.qemuVersion === undefined ? {} : { qemuVersion: column.qemuVersion }),
    });
    let reference: string[] | undefined;
    if (column.live && column.qemuVersion !== undefined) {
      const live = (await runNormalised(flow, "qemu", { qemuVersion: column.qemuVersion })).map(stepLine);
      // Under load QEMU may send a job's next events before the reply of the command that started it: the contract
      // suite takes such a run as the recording (reconcileLateReplies), and so does this count.
      const recorded = await readFixture(flow, column.version);
      reference = recorded === undefined ? live : reconcileLateReplies(live, recorded);
    } else {
      reference = await readFixture(flow, column.version);
    }
    if (reference === undefined) {
      cells.push(undefined);
      continue;
    }
    const result = compareSteps(reference, fake.map(stepLine));
    let difference: string | undefined;
    if (result.firstDifference !== undefined) {
      const [expected, actual] = aroundFirstDifference(
        result.firstDifference.expected,
        result.firstDifference.actual,
      );
      difference = `  ${column.version.padEnd(9)} ${expected}\n  ${"fake".padEnd(9)} ${actual}`;
    }
    cells.push({ identical: result.identical, total: result.total, ...(difference ? { difference } : {}) });
  }
  rows.push({ flow: flow.name, cells });
}

const flowWidth = Math.max(5, ...rows.map((r) => r.flow.length));
const headers = columns.map((c) => `${c.version} (${c.live ? "live" : "fixture"})`);
const widths = headers.map((h) => Math.max(h.length, 16));
const line = (first: string, cells: string[]) =>
  [first.padEnd(flowWidth), ...cells.map((cell, i) => cell.padStart(widths[i] ?? 16))].join("  ");
const format = (identical: number, total: number) =>
  `${identical}/${total} ${total === 0 ? "" : `(${Math.round((100 * identical) / total)}%)`}`.trim();

console.log(
  "Steps identical between the fake and real QEMU (normalised: see packages/testkit/test/contract/normalise.ts)\n",
);
console.log(line("flow", headers));
for (const row of rows) {
  console.log(
    line(
      row.flow,
      row.cells.map((c) => (c === undefined ? "-" : format(c.identical, c.total))),
    ),
  );
}
const totals = columns.map((_, i) =>
  rows.reduce(
    (sum, row) => {
      const cell = row.cells[i];
      return cell === undefined
        ? sum
        : { identical: sum.identical + cell.identical, total: sum.total + cell.total };
    },
    { identical: 0, total: 0 },
  ),
);
console.log(
  line(
    "TOTAL",
    totals.map((t) => format(t.identical, t.total)),
  ),
);
console.log("\nFirst differing step per flow (expected, then the fake's):");
for (const row of rows) {
  for (const cell of row.cells) {
    if (cell?.difference !== undefined) console.log(`${row.flow}:\n${cell.difference}`);
  }
}
