import { describe, expect, test } from "bun:test";
import {
  type JobEnding,
  measureProgress,
  type ProgressRow,
  type ProgressSnapshot,
  progressFinished,
  recordJobEvent,
  renderProgressBars,
  renderProgressLines,
  settleVanished,
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
      failed: false,
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

  test("migration: progress and rate both count RAM processed, zero pages included", () => {
    // Issue 17: an idle 256 MiB guest, max-bandwidth=200000. Almost every page is a zero page: on the wire
    // they cost a flag each, so `transferred` crawls while `remaining` falls fast.
    const page = 4096;
    const snap = (at: number, zeroPages: number, normalPages: number): ProgressSnapshot => {
      const processed = (zeroPages + normalPages) * page;
      return {
        at,
        migration: {
          status: "active",
          ram: {
            transferred: normalPages * page + zeroPages * 9,
            remaining: 256 * MiB - processed,
            total: 256 * MiB,
            duplicate: zeroPages,
            "normal-bytes": normalPages * page,
            "page-size": page,
          },
        },
      };
    };
    const [row] = measureProgress(snap(0, 10_000, 100), snap(1000, 20_000, 150));
    // 10,050 pages a second processed; 65,536 - 20,150 pages left: 4.5 s, not the 20 minutes
    // that 200 KB/s of `transferred` would predict.
    expect(row?.rate).toBe(10_050 * page);
    expect(row?.eta).toBeCloseTo((65_536 - 20_150) / 10_050, 5);
  });

  test("migration without page counters: the rate follows total minus remaining", () => {
    const snap = (at: number, transferred: number, remaining: number): ProgressSnapshot => ({
      at,
      migration: { status: "active", ram: { transferred, remaining, total: 4 * GiB } },
    });
    const [row] = measureProgress(snap(0, GiB, 3 * GiB), snap(2000, 1.1 * GiB, 2 * GiB));
    expect(row).toMatchObject({ label: "migration", done: 2 * GiB, total: 4 * GiB, rate: GiB / 2, eta: 4 });
  });

  test("a failed migration keeps its last figures instead of a full bar", () => {
    const active: ProgressSnapshot = {
      at: 0,
      migration: { status: "active", ram: { transferred: 1, remaining: 3 * GiB, total: 4 * GiB } },
    };
    const failed: ProgressSnapshot = { at: 1000, migration: { status: "failed", "error-desc": "disk full" } };
    const [row] = measureProgress(active, failed);
    expect(row).toMatchObject({ done: GiB, total: 4 * GiB, finished: true, failed: true });
    const [alone] = measureProgress(undefined, failed);
    expect(renderProgressLines([alone as ProgressRow])[0]).toContain("percent=0.0");
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

  test("a narrow window cuts the facts, then the bar: no line is wider than the window", () => {
    for (const width of [60, 40, 30, 20, 12, 5]) {
      for (const line of renderProgressBars(rows, { width })) expect(line.length).toBeLessThanOrEqual(width);
    }
    const [narrow] = renderProgressBars(rows, { width: 40 });
    expect(narrow).toContain(`[${"#".repeat(6)}${"-".repeat(4)}]`);
  });

  test("bars in different rows have the same width", () => {
    const two = measureProgress(
      { at: 0, blockJobs: [mirror(GiB)], jobs: [] },
      {
        at: 2000,
        blockJobs: [mirror(GiB + 128 * MiB)],
        jobs: [{ id: "img", type: "create", status: "running", "current-progress": 1, "total-progress": 4 }],
      },
    );
    const bars = renderProgressBars(two, { width: 90 }).map((l) => /\[[#-]+\]/.exec(l)?.[0].length);
    expect(bars[0]).toBeGreaterThan(10);
    expect(bars[1]).toBe(bars[0]);
  });

  test("colour only tints the filled part", () => {
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
      'job=migration type=migration status=failed done=0 total=0 percent=0.0 error="no \\"space\\""',
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

describe("jobs that leave query-jobs", () => {
  const running = measureProgress(undefined, { at: 0, blockJobs: [{ ...mirror(GiB), type: "backup" }] });

  test("an auto-dismissed job that completed shows its end at 100%", () => {
    const endings = new Map<string, JobEnding>();
    recordJobEvent(endings, { event: "JOB_STATUS_CHANGE", data: { id: "drive0", status: "concluded" } });
    recordJobEvent(endings, {
      event: "BLOCK_JOB_COMPLETED",
      data: { device: "drive0", type: "backup", len: 2 * GiB, offset: 2 * GiB, speed: 0 },
    });
    const [row] = settleVanished(running, [], endings);
    expect(row).toMatchObject({ status: "completed", done: 2 * GiB, finished: true, failed: false });
    expect(renderProgressLines([row as ProgressRow])[0]).toContain("percent=100.0");
  });

  test("cancelled, or failing with EIO, is a failure with the reason", () => {
    const cancelled = new Map<string, JobEnding>();
    recordJobEvent(cancelled, {
      event: "BLOCK_JOB_CANCELLED",
      data: { device: "drive0", type: "backup", len: 2 * GiB, offset: GiB, speed: 0 },
    });
    expect(settleVanished(running, [], cancelled)[0]).toMatchObject({ status: "cancelled", failed: true });
    const eio = new Map<string, JobEnding>();
    recordJobEvent(eio, {
      event: "BLOCK_JOB_ERROR",
      data: { device: "drive0", operation: "write", action: "report" },
    });
    recordJobEvent(eio, {
      event: "BLOCK_JOB_COMPLETED",
      data: {
        device: "drive0",
        type: "backup",
        len: 2 * GiB,
        offset: GiB,
        speed: 0,
        error: "Input/output error",
      },
    });
    expect(settleVanished(running, [], eio)[0]).toMatchObject({
      status: "failed",
      error: "Input/output error",
      failed: true,
    });
  });

  test("a job still listed, or already finished, is left alone; one that vanished without an event is 'gone'", () => {
    expect(settleVanished(running, running, new Map())).toEqual([]);
    expect(settleVanished(running, [], new Map())[0]).toMatchObject({ status: "gone", finished: true });
  });
});
