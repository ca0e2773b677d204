/** Small pieces of the soak run: a seeded PRNG, a latency record with percentiles, RSS samples, formatting. */

/** mulberry32: a tiny seeded PRNG, so a soak run's interleaving can be repeated with `--seed`. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Per-command latencies in a preallocated array (no allocation per sample). */
export class Latencies {
  readonly #values: Float64Array;
  #count = 0;

  constructor(capacity: number) {
    this.#values = new Float64Array(capacity);
  }

  add(ms: number): void {
    this.#values[this.#count++] = ms;
  }

  get count(): number {
    return this.#count;
  }

  /** The p-th percentile (0–100) in ms, nearest-rank. Sorts once, on first use. */
  percentile(p: number): number {
    const sorted = this.#sorted();
    if (sorted.length === 0) return Number.NaN;
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank] as number;
  }

  #sortedCache: Float64Array | undefined;
  #sorted(): Float64Array {
    this.#sortedCache ??= this.#values.subarray(0, this.#count).slice().sort();
    return this.#sortedCache;
  }
}

/** One RSS sample, in MiB. */
export interface RssSample {
  label: string;
  rssMiB: number;
  /** JS heap in use (`heapUsed`). */
  heapMiB: number;
}

/** RSS now; with `gc`, after a full collection (what is really held, not what the allocator kept). */
export function sampleRss(label: string, gc: boolean): RssSample {
  if (gc) Bun.gc(true);
  const memory = process.memoryUsage();
  return { label, rssMiB: memory.rss / 2 ** 20, heapMiB: memory.heapUsed / 2 ** 20 };
}

/** 1234567 → "1,234,567". */
export function thousands(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** A number with 3 significant digits. */
export function sig3(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return n >= 100 ? thousands(n) : n.toPrecision(3);
}
