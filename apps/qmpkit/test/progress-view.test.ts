import { describe, expect, test } from "bun:test";
import {
  measureProgress,
  type ProgressSnapshot,
  progressFinished,
  renderProgressBars,
  renderProgressLines,
} from "../src/progress-view.ts";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const mirror = (offset: number, status = "running") => ({
  device: "drive0",
  type: "mirror",
  len: 2 * GiB,
  offset,
  status,
  speed: 0,
  busy: true,
  paused: false,
  ready: false,
});

describe("measureProgress", () => {
  test("a first snapshot has no rate or ETA", () => {
    const [row] = measureProgress(undefined, { at: 0, blockJobs: [mirror(GiB)] });
    expect(row).toEqual({
      key: "job:drive0",
      id: "drive0",
      type: "mirror",
      label: "mirror drive0",
      status: "running",
      done: GiB,
      total: 2 * GiB,
      bytes: true,
      finished: false,
    });
  });

  test("two snapshots give rate and ETA", () => {
    const first: ProgressSnapshot = { at: 1000, blockJobs: [mirror(GiB)] };
    const second: ProgressSnapshot = { at: 3000, blockJobs: [mirror(GiB + 128 * MiB)] };
    const [row] = measureProgress(first, second);
    expect(row?.rate).toBe(64 * MiB);
    expect(row?.eta).toBe((GiB - 128 * MiB) / (64 * MiB)); // 14 s
  });

  test("query-jobs and query-block-jobs describing one job give one row; block-jobs wins", () => {
    const rows = measureProgress(undefined, {
      at: 0,
      jobs: [
        { id: "drive0", type: "mirror", status: "running", "current-progress": 5, "total-progress": 10 },
        { id: "img", type: "create", status: "running", "current-progress": 1, "total-progress": 4 },
      ],
      blockJobs: [mirror(GiB)],
    });
    expect(rows.map((r) => [r.label, r.done, r.bytes])).toEqual([
      ["mirror drive0", GiB, true],
      ["create img", 1, false],
    ]);
  });

  test("a stalled job has rate 0 and no ETA; a counter going backwards has no rate", () => {
    const stalled = measureProgress(
      { at: 0, blockJobs: [mirror(GiB)] },
      { at: 1000, blockJobs: [mirror(GiB)] },
    );
    expect(stalled[0]?.rate).toBe(0);
    expect(stalled[0]?.eta).toBeUndefined();
    const restarted = measureProgress(
      { at: 0, blockJobs: [mirror(GiB)] },
      { at: 1000, blockJobs: [mirror(0)] },
    );
    expect(restarted[0]?.rate).toBeUndefined();
  });

  test("migration: progress is total minus remaining, rate is bytes sent", () => {
    const snap = (at: number, transferred: number, remaining: number): ProgressSnapshot => ({
      at,
      migration: { status: "active", ram: { transferred, remaining, total: 4 * GiB } },
    });
    // The guest dirtied memory: remaining barely moved though 1 GiB was sent.
    const [row] = measureProgress(snap(0, GiB, 3 * GiB), snap(2000, 2 * GiB, 2.5 * GiB));
    expect(row).toMatchObject({ label: "migration", done: 1.5 * GiB, total: 4 * GiB, rate: GiB / 2, eta: 5 });
  });

  test("no migration (status none) and no jobs: nothing to show, which counts as finished", () => {
    const rows = measureProgress(undefined, {
      at: 0,
      jobs: [],
      blockJobs: [],
      migration: { status: "none" },
    });
    expect(rows).toEqual([]);
    expect(progressFinished(rows)).toBe(true);
  });

  test("finished states", () => {
    const rows = measureProgress(undefined, {
      at: 0,
      jobs: [{ id: "j", type: "backup", status: "concluded", "current-progress": 1, "total-progress": 1 }],
      migration: { status: "failed", "error-desc": "disk full" },
    });
    expect(rows.map((r) => [r.finished, r.error])).toEqual([
      [true, undefined],
      [true, "disk full"],
    ]);
    expect(progressFinished(rows)).toBe(true);
    expect(progressFinished(measureProgress(undefined, { at: 0, blockJobs: [mirror(0)] }))).toBe(false);
  });
});

describe("rendering", () => {
  const rows = measureProgress(
    { at: 0, blockJobs: [mirror(GiB)] },
    { at: 2000, blockJobs: [mirror(GiB + 128 * MiB)] },
  );

  test("bars fit the width", () => {
    const [line] = renderProgressBars(rows, { width: 80 });
    expect(line).toBe(
      `mirror drive0  [${"#".repeat(7)}${"-".repeat(5)}]   56%  1.1 GiB/2.0 GiB  64 MiB/s  ETA 14s  running`,
    );
    expect(line?.length).toBe(80);
  });

  test("bars never shrink below 10 cells, and colour only tints the filled part", () => {
    const [narrow] = renderProgressBars(rows, { width: 20 });
    expect(narrow).toContain(`[${"#".repeat(6)}${"-".repeat(4)}]`);
    const [colored] = renderProgressBars(rows, { width: 100, color: true });
    expect(colored).toContain(`[\x1b[36m${"#".repeat(18)}\x1b[0m${"-".repeat(14)}]`);
  });

  test("plain lines are logfmt with raw numbers", () => {
    expect(renderProgressLines(rows)).toEqual([
      `job=drive0 type=mirror status=running done=${GiB + 128 * MiB} total=${2 * GiB} percent=56.3 rate=${64 * MiB} eta=14`,
    ]);
    const failed = measureProgress(undefined, {
      at: 0,
      migration: { status: "failed", "error-desc": 'no "space"' },
    });
    expect(renderProgressLines(failed)).toEqual([
      'migration=ram status=failed done=0 total=0 percent=100.0 error="no \\"space\\""',
    ]);
  });

  test("unit counts for non-block jobs", () => {
    const units = measureProgress(undefined, {
      at: 0,
      jobs: [{ id: "img", type: "create", status: "running", "current-progress": 1, "total-progress": 4 }],
    });
    expect(renderProgressBars(units, { width: 60 })[0]).toBe(
      `create img  [${"#".repeat(7)}${"-".repeat(19)}]   25%  1/4  running`,
    );
  });
});
