/**
 * Rows, medians, ratios and the printed table. Every row stores a cost per
 * operation (lower is better) for each repetition; a unit turns the median
 * cost into the figure shown (µs/cmd, M events/s, MB/s, ...). Ratios are
 * always cost ratios: 2.00× means twice the baseline's cost (half its rate).
 */

export interface Unit {
  readonly label: string;
  /** "cost": shown as cost / factor. "rate": shown as (1e9 / cost) / factor, i.e. per second. */
  readonly kind: "cost" | "rate";
  readonly factor: number;
}

export const perOpMicros = (what: string): Unit => ({ label: `µs/${what}`, kind: "cost", factor: 1e3 });
export const perOpMillis = (what: string): Unit => ({ label: `ms/${what}`, kind: "cost", factor: 1e6 });
export const millis: Unit = { label: "ms", kind: "cost", factor: 1e6 };
export const megabytes: Unit = { label: "MB", kind: "cost", factor: 1e6 };
/** ops are bytes: shown as MB/s (1 MB = 10^6 bytes). */
export const megabytesPerSec: Unit = { label: "MB/s", kind: "rate", factor: 1e6 };
export const ratePerSec = (label: string, factor: number): Unit => ({ label, kind: "rate", factor });

/** Which baseline a row is, for the ratio columns. */
export type Ref = "c" | "bun";

export interface Row {
  /** The group: ratios compare rows of the same workload label. */
  readonly workload: string;
  readonly impl: string;
  readonly unit: Unit;
  readonly ref?: Ref;
  /** Cost per operation of each repetition (ns per op, or bytes for sizes). */
  readonly costs: number[];
}

export interface RssRow {
  readonly workload: string;
  readonly impl: string;
  /** bytes, sampled after a full GC before the first repetition */
  readonly before: number;
  /** bytes, sampled after a full GC after each repetition */
  readonly after: readonly number[];
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  if (s.length === 0) return Number.NaN;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function show(unit: Unit, cost: number): number {
  return unit.kind === "cost" ? cost / unit.factor : 1e9 / cost / unit.factor;
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return "—";
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(row: Row, rows: readonly Row[], ref: Ref): string {
  const base = rows.find((r) => r.workload === row.workload && r.ref === ref);
  if (base === undefined) return "—";
  return `${(median(row.costs) / median(base.costs)).toFixed(2)}×`;
}

function markdown(header: readonly string[], body: readonly string[][], right: readonly boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `| ${widths.map((w, i) => (right[i] ? `${"-".repeat(w - 1)}:` : "-".repeat(w))).join(" | ")} |`;
  return [line(header), rule, ...body.map(line)].join("\n");
}

export function resultsTable(rows: readonly Row[]): string {
  const body = rows.map((r) => [
    r.workload,
    r.impl,
    fmt(show(r.unit, median(r.costs))),
    r.unit.label,
    ratio(r, rows, "c"),
    ratio(r, rows, "bun"),
  ]);
  return markdown(
    ["workload", "implementation", "median", "unit", "ratio vs raw C", "ratio vs raw Bun"],
    body,
    [false, false, true, false, true, true],
  );
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

const signed = (bytes: number) => `${bytes >= 0 ? "+" : ""}${mib(bytes)}`;

/**
 * Before the first repetition, after the first, the largest after any, after the last; "retained" is last minus
 * first-after, so the heap's one-time sizing by the first run does not read as growth.
 */
export function rssTable(rows: readonly RssRow[]): string {
  const body = rows.map((r) => {
    const first = r.after[0] ?? Number.NaN;
    const last = r.after[r.after.length - 1] ?? Number.NaN;
    return [
      r.workload,
      r.impl,
      mib(r.before),
      mib(first),
      mib(Math.max(...r.after)),
      mib(last),
      signed(last - first),
    ];
  });
  return markdown(
    ["workload", "implementation", "before", "after rep 1", "max", "after last", "retained (last − rep 1)"],
    body,
    [false, false, true, true, true, true, true],
  );
}

/** Current RSS after a full collection, so growth means retained memory. */
export function sampleRss(): number {
  Bun.gc(true);
  return process.memoryUsage().rss;
}

/** A named row to compare a subject with, e.g. `{ label: "npm qemu-qmp", impl: "npm qemu-qmp (Node)" }`. */
export interface Versus {
  readonly label: string;
  readonly impl: string;
}

/**
 * One line per workload group in which `subject` has a row: its median and its cost ratio to each of `against`
 * in that same group (the same run, interleaved), or "—" where that row is absent.
 */
export function versusTable(
  rows: readonly Row[],
  subject: string,
  against: readonly Versus[],
): string | null {
  const mine = rows.filter((r) => r.impl === subject);
  if (mine.length === 0) return null;
  const body = mine.map((r) => [
    r.workload,
    fmt(show(r.unit, median(r.costs))),
    r.unit.label,
    ...against.map(({ impl }) => {
      const base = rows.find((b) => b.workload === r.workload && b.impl === impl);
      return base === undefined ? "—" : `${(median(r.costs) / median(base.costs)).toFixed(2)}×`;
    }),
  ]);
  return markdown(["workload", subject, "unit", ...against.map(({ label }) => `vs ${label}`)], body, [
    false,
    true,
    false,
    ...against.map(() => true),
  ]);
}
