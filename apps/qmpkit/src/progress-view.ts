/**
 * Progress of block jobs and migration, pure: snapshots of `query-jobs`, `query-block-jobs` and
 * `query-migrate` in, rows with rate and ETA out, rendered as bars (terminal) or as logfmt lines
 * (pipes and logs). The polling loop lives in `commands/progress.ts`.
 *
 * Rate is measured between two snapshots, not taken from QEMU: `query-jobs` reports no rate,
 * and a block job's `speed` is a limit, not a measurement. For migration the rate is guest RAM
 * processed per second (pages sent plus zero pages, which cost nothing on the wire), the same
 * quantity `remaining` counts down, so the ETA `remaining / rate` compares like with like; the
 * guest dirtying memory makes it a lower bound, which is the best two samples can say.
 */

import { formatBytes, formatDuration, paint } from "./format.ts";

/** An element of `query-jobs`. */
export interface JobInfo {
  readonly id: string;
  readonly type: string;
  readonly status: string;
  readonly "current-progress": number;
  readonly "total-progress": number;
  readonly error?: string;
}

/** An element of `query-block-jobs`; `device` is the job id. */
export interface BlockJobInfo {
  readonly device: string;
  readonly type: string;
  readonly len: number;
  readonly offset: number;
  readonly status?: string;
  readonly paused?: boolean;
  readonly error?: string;
}

/** The `query-migrate` return value (the members used here). */
export interface MigrationInfo {
  readonly status?: string;
  readonly ram?: {
    readonly transferred: number;
    readonly remaining: number;
    readonly total: number;
    /** Zero pages found (sent as a flag, not as data). */
    readonly duplicate?: number;
    /** Bytes of pages sent in full. */
    readonly "normal-bytes"?: number;
    readonly "page-size"?: number;
  };
  readonly "error-desc"?: string;
}

/** What one poll returned, and when (milliseconds, any monotonic clock). */
export interface ProgressSnapshot {
  readonly at: number;
  readonly jobs?: readonly JobInfo[];
  readonly blockJobs?: readonly BlockJobInfo[];
  readonly migration?: MigrationInfo;
}

/** One bar. */
export interface ProgressRow {
  /** Stable across snapshots: `job:ID` or `migration`. */
  readonly key: string;
  /** The job id; `ram` for migration. */
  readonly id: string;
  /** The job type (`mirror`, `backup`, …) or `migration`. */
  readonly type: string;
  /** `mirror drive0`, `migration`. */
  readonly label: string;
  readonly status: string;
  readonly done: number;
  readonly total: number;
  /** Whether `done`/`total` count bytes (block jobs, migration) or abstract units. */
  readonly bytes: boolean;
  /** Settled for good: concluded, completed, failed, cancelled. */
  readonly finished: boolean;
  /** Settled without success: failed, cancelled, or an error reported. */
  readonly failed: boolean;
  /** What the user may do next (a mirror in `ready` waits for job-complete). */
  readonly hint?: string;
  readonly error?: string;
  /** Units per second since the previous snapshot, when it can be known. */
  readonly rate?: number;
  /** Seconds left at that rate, when it can be known. */
  readonly eta?: number;
}

// Job types whose progress counts bytes (QEMU's block jobs); others (create, amend…) count units.
const BYTE_JOBS = new Set(["commit", "stream", "mirror", "backup"]);
const JOB_DONE = new Set(["concluded", "null"]);
const MIGRATION_DONE = new Set(["completed", "failed", "cancelled", "none"]);
const FAILED_STATUS = new Set(["failed", "cancelled", "aborting"]);

function failedRow(status: string, error: string | undefined): boolean {
  return error !== undefined || FAILED_STATUS.has(status);
}

/** Guest RAM processed so far: full pages plus zero pages; falls back to what `remaining` implies. */
function ramProcessed(ram: NonNullable<MigrationInfo["ram"]>): number {
  const normal = ram["normal-bytes"];
  const zero = ram.duplicate;
  const page = ram["page-size"];
  if (normal !== undefined && zero !== undefined && page !== undefined) return normal + zero * page;
  return ram.total - ram.remaining;
}

const READY_HINT = "job-complete to finish";

interface Item extends Omit<ProgressRow, "rate" | "eta"> {
  /** Monotonic work counter used for the rate (migration: bytes sent, not done). */
  readonly counter: number;
  readonly remaining: number;
}

function items(snapshot: ProgressSnapshot): Item[] {
  const byKey = new Map<string, Item>();
  for (const job of snapshot.jobs ?? []) {
    const done = job["current-progress"];
    const total = job["total-progress"];
    byKey.set(`job:${job.id}`, {
      key: `job:${job.id}`,
      id: job.id,
      type: job.type,
      label: `${job.type} ${job.id}`,
      status: job.status,
      done,
      total,
      bytes: BYTE_JOBS.has(job.type),
      finished: JOB_DONE.has(job.status),
      failed: failedRow(job.status, job.error),
      ...(job.error === undefined ? {} : { error: job.error }),
      ...(job.status === "ready" ? { hint: READY_HINT } : {}),
      counter: done,
      remaining: total - done,
    });
  }
  // The same job seen through query-block-jobs: same numbers, known to be bytes.
  for (const job of snapshot.blockJobs ?? []) {
    const key = `job:${job.device}`;
    const status = job.status ?? byKey.get(key)?.status ?? (job.paused ? "paused" : "running");
    byKey.set(key, {
      key,
      id: job.device,
      type: job.type,
      label: `${job.type} ${job.device}`,
      status,
      done: job.offset,
      total: job.len,
      bytes: true,
      finished: JOB_DONE.has(status),
      failed: failedRow(status, job.error),
      ...(job.error === undefined ? {} : { error: job.error }),
      ...(status === "ready" ? { hint: READY_HINT } : {}),
      counter: job.offset,
      remaining: job.len - job.offset,
    });
  }
  const migration = snapshot.migration;
  if (migration?.status !== undefined && migration.status !== "none") {
    const ram = migration.ram;
    const total = ram?.total ?? 0;
    const remaining = ram?.remaining ?? 0;
    byKey.set("migration", {
      key: "migration",
      id: "ram",
      type: "migration",
      label: "migration",
      status: migration.status,
      done: migration.status === "completed" ? total : Math.max(0, total - remaining),
      total,
      bytes: true,
      finished: MIGRATION_DONE.has(migration.status),
      failed: failedRow(migration.status, migration["error-desc"]),
      ...(migration["error-desc"] === undefined ? {} : { error: migration["error-desc"] }),
      counter: ram ? ramProcessed(ram) : 0,
      remaining,
    });
  }
  return [...byKey.values()];
}

/**
 * Rows for `current`, with rate and ETA measured against `previous` (the snapshot before it).
 * @example
 * measureProgress(first, second)[0] // { label: "mirror drive0", done: …, rate: 1048576, eta: 12, … }
 */
export function measureProgress(
  previous: ProgressSnapshot | undefined,
  current: ProgressSnapshot,
): ProgressRow[] {
  const before = new Map(previous ? items(previous).map((i) => [i.key, i]) : []);
  const seconds = previous ? (current.at - previous.at) / 1000 : 0;
  return items(current).map(({ counter, remaining, ...row }) => {
    const old = before.get(row.key);
    // A failed migration stops reporting RAM figures: keep the last ones rather than show a full bar.
    if (old && row.failed && row.total === 0) return { ...row, done: old.done, total: old.total };
    if (!old || seconds <= 0 || row.finished) return row;
    const rate = (counter - old.counter) / seconds;
    // A counter that went backwards is a restarted job: no honest rate.
    if (rate < 0) return row;
    return rate > 0 && remaining >= 0 ? { ...row, rate, eta: remaining / rate } : { ...row, rate };
  });
}

/** How a job ended, as its events told: block jobs that auto-dismiss leave `query-jobs` at once. */
export interface JobEnding {
  readonly status: string;
  readonly error?: string;
  /** Final progress, from BLOCK_JOB_COMPLETED/CANCELLED. */
  readonly done?: number;
  readonly total?: number;
}

/**
 * Reads one job event into `endings` (keyed by job id). BLOCK_JOB_ERROR only remembers what went
 * wrong: with `action=stop` the job pauses and lives on; the event that ends it comes later.
 */
export function recordJobEvent(
  endings: Map<string, JobEnding>,
  event: { readonly event: string; readonly data?: unknown },
): void {
  const data = (event.data ?? {}) as Record<string, unknown>;
  const id = String(data.device ?? data.id ?? "");
  if (id === "") return;
  const before = endings.get(id);
  const numbers =
    typeof data.len === "number" && typeof data.offset === "number"
      ? { done: data.offset, total: data.len }
      : {};
  switch (event.event) {
    case "BLOCK_JOB_COMPLETED": {
      const error = typeof data.error === "string" ? data.error : undefined;
      endings.set(id, {
        status: error === undefined ? "completed" : "failed",
        ...(error === undefined ? {} : { error }),
        ...numbers,
      });
      return;
    }
    case "BLOCK_JOB_CANCELLED":
      endings.set(id, { status: "cancelled", ...(before?.error ? { error: before.error } : {}), ...numbers });
      return;
    case "BLOCK_JOB_ERROR":
      endings.set(id, {
        ...(before ?? { status: "running" }),
        error: `${String(data.operation ?? "I/O")} error (action ${String(data.action ?? "report")})`,
      });
      return;
    case "JOB_STATUS_CHANGE": {
      const status = String(data.status ?? "");
      // `aborting` is the one sign a job without block-job events failed or was cancelled.
      if (before?.status === "completed" || before?.status === "cancelled" || before?.status === "failed")
        return;
      if (status === "aborting") endings.set(id, { ...before, status: "failed" });
      else if (status === "concluded" && before?.status !== "failed")
        endings.set(id, { ...before, status: "concluded" });
      return;
    }
  }
}

/**
 * Rows for jobs that were shown last time, unfinished, and are gone from this poll: finished, with the end
 * their events told (or `gone` when no event said). Without this, an auto-dismissed job's last frame never
 * shows its end, and a cancelled or failed one looks like success.
 */
export function settleVanished(
  previous: readonly ProgressRow[],
  current: readonly ProgressRow[],
  endings: ReadonlyMap<string, JobEnding>,
): ProgressRow[] {
  const present = new Set(current.map((r) => r.key));
  return previous
    .filter((row) => !row.finished && !present.has(row.key) && row.type !== "migration")
    .map(({ rate: _rate, eta: _eta, hint: _hint, ...row }) => {
      const ending = endings.get(row.id);
      const status = ending?.status ?? "gone";
      const error = ending?.error;
      const done = ending?.done ?? (status === "completed" || status === "concluded" ? row.total : row.done);
      return {
        ...row,
        status,
        done,
        total: ending?.total ?? row.total,
        finished: true,
        failed: failedRow(status, error),
        ...(error === undefined ? {} : { error }),
      };
    });
}

/** True when every row has settled (and also when there is nothing to watch). */
export function progressFinished(rows: readonly ProgressRow[]): boolean {
  return rows.every((r) => r.finished);
}

const MIN_BAR = 10;

export interface BarOptions {
  /** Terminal columns. @default 80 */
  readonly width?: number;
  /** @default false */
  readonly color?: boolean;
}

function amount(value: number, bytes: boolean): string {
  return bytes ? formatBytes(value) : String(value);
}

function percent(row: ProgressRow): number {
  if (row.total <= 0) return row.finished && !row.failed ? 100 : 0;
  return Math.min(100, (row.done / row.total) * 100);
}

/**
 * One bar per row, for a terminal redrawn in place:
 * `mirror drive0  [#########-----------]  45%  1.0 GiB/2.2 GiB  64 MiB/s  ETA 18s  running`
 */
export function renderProgressBars(rows: readonly ProgressRow[], options: BarOptions = {}): string[] {
  const width = options.width ?? 80;
  const color = options.color ?? false;
  const labelWidth = Math.min(24, Math.max(0, ...rows.map((r) => r.label.length)));
  const tails = rows.map((row) => {
    const pct = percent(row);
    const facts = [
      `${pct.toFixed(0).padStart(3)}%`,
      `${amount(row.done, row.bytes)}/${amount(row.total, row.bytes)}`,
      row.rate === undefined ? "" : `${amount(Math.round(row.rate), row.bytes)}/s`,
      row.eta === undefined ? "" : `ETA ${formatDuration(row.eta)}`,
      row.error ?? row.status,
      row.hint ?? "",
    ].filter((f) => f !== "");
    return facts.join("  ");
  });
  // One bar width for every row: tails padded to the longest, so the bars line up.
  const tailWidth = Math.max(0, ...tails.map((t) => t.length));
  return rows.map((row, i) => {
    const pct = percent(row);
    let tail = (tails[i] ?? "").padEnd(tailWidth);
    const label = row.label.length > labelWidth ? `${row.label.slice(0, labelWidth - 1)}…` : row.label;
    // label + 2 spaces + "[" + bar + "]" + 2 spaces + tail = width. A line longer than the terminal
    // wraps, and the next redraw would then move up too few lines: cut the tail, then the bar, instead.
    let barWidth = width - labelWidth - tail.length - 6;
    if (barWidth < MIN_BAR) {
      barWidth = Math.min(MIN_BAR, width - labelWidth - 6);
      tail = tail.slice(0, Math.max(0, width - labelWidth - 6 - barWidth));
    }
    if (barWidth < 1) return `${label} ${pct.toFixed(0)}%`.slice(0, Math.max(1, width));
    const filled = Math.round((pct / 100) * barWidth);
    const tint = row.error !== undefined ? "red" : row.finished ? "green" : "cyan";
    const bar = paint("#".repeat(filled), tint, color) + "-".repeat(barWidth - filled);
    return `${label.padEnd(labelWidth)}  [${bar}]  ${tail}`.trimEnd();
  });
}

/**
 * One logfmt line per row, for pipes and logs; numbers stay raw so a script can read them:
 * `job=drive0 type=mirror status=running done=1073741824 total=2147483648 percent=50.0 rate=67108864 eta=16`
 */
export function renderProgressLines(rows: readonly ProgressRow[]): string[] {
  return rows.map((row) => {
    const fields = [
      `job=${logfmt(row.type === "migration" ? "migration" : row.id)} type=${logfmt(row.type)}`,
      `status=${logfmt(row.status)}`,
      `done=${row.done}`,
      `total=${row.total}`,
      `percent=${percent(row).toFixed(1)}`,
    ];
    if (row.rate !== undefined) fields.push(`rate=${Math.round(row.rate)}`);
    if (row.eta !== undefined) fields.push(`eta=${Math.round(row.eta)}`);
    if (row.error !== undefined) fields.push(`error=${logfmt(row.error)}`);
    if (row.hint !== undefined) fields.push(`hint=${logfmt(row.hint)}`);
    return fields.join(" ");
  });
}

/** Quotes a logfmt value only when it needs it. */
function logfmt(value: string): string {
  return value === "" || /[\s"=\\]/.test(value) ? JSON.stringify(value) : value;
}
