/**
 * The iteration order of a GLib 2.74 `GHashTable` keyed by strings. `qom-list` walks an object's properties in
 * that order (and lists them reversed), so a container whose children come and go — `/machine/peripheral` —
 * lists them in an order that depends on the names, the insertions and the removals. This reproduces GLib's
 * table exactly: `g_str_hash`, the prime modulus with quadratic probing, tombstones, and the in-place resize.
 */

const UNUSED = 0;
const TOMBSTONE = 1;
const MIN_SHIFT = 3;
const PRIME_MOD = [
  1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071, 262139, 524287,
];

/** GLib's `g_str_hash` (djb2 over signed chars), as an unsigned 32-bit number. */
export function gStrHash(key: string): number {
  let hash = 5381;
  for (const byte of new TextEncoder().encode(key)) {
    const signed = byte > 127 ? byte - 256 : byte;
    hash = (Math.imul(hash, 33) + signed) >>> 0;
  }
  return hash;
}

/** A set of strings that iterates as a GLib hash table of the same history does. */
export class GHashOrder {
  #shift = MIN_SHIFT;
  #keys: (string | undefined)[] = new Array(1 << MIN_SHIFT).fill(undefined);
  #hashes: number[] = new Array(1 << MIN_SHIFT).fill(UNUSED);
  #nnodes = 0;
  #noccupied = 0;

  get #size(): number {
    return 1 << this.#shift;
  }

  #index(hash: number): number {
    // GLib multiplies by a small prime before the modulo; in 32-bit unsigned arithmetic.
    return (Math.imul(hash, 11) >>> 0) % (PRIME_MOD[this.#shift] as number);
  }

  #lookup(key: string): { index: number; hash: number; found: boolean } {
    let hash = gStrHash(key);
    if (hash <= TOMBSTONE) hash = 2;
    const mask = this.#size - 1;
    let index = this.#index(hash);
    let firstTombstone = -1;
    let step = 0;
    let nodeHash = this.#hashes[index] as number;
    while (nodeHash !== UNUSED) {
      if (nodeHash === hash && this.#keys[index] === key) return { index, hash, found: true };
      if (nodeHash === TOMBSTONE && firstTombstone < 0) firstTombstone = index;
      step++;
      index = (index + step) & mask;
      nodeHash = this.#hashes[index] as number;
    }
    return { index: firstTombstone >= 0 ? firstTombstone : index, hash, found: false };
  }

  has(key: string): boolean {
    return this.#lookup(key).found;
  }

  add(key: string): void {
    const { index, hash, found } = this.#lookup(key);
    if (found) return;
    const wasTombstone = this.#hashes[index] === TOMBSTONE;
    this.#hashes[index] = hash;
    this.#keys[index] = key;
    this.#nnodes++;
    if (!wasTombstone) this.#noccupied++;
    this.#maybeResize();
  }

  delete(key: string): boolean {
    const { index, found } = this.#lookup(key);
    if (!found) return false;
    this.#hashes[index] = TOMBSTONE;
    this.#keys[index] = undefined;
    this.#nnodes--;
    this.#maybeResize();
    return true;
  }

  /** The keys in GLib's iteration order. */
  keys(): string[] {
    const keys: string[] = [];
    for (let i = 0; i < this.#size; i++) {
      if ((this.#hashes[i] as number) > TOMBSTONE) keys.push(this.#keys[i] as string);
    }
    return keys;
  }

  #maybeResize(): void {
    const size = this.#size;
    if (
      (size > this.#nnodes * 4 && size > 1 << MIN_SHIFT) ||
      size <= this.#noccupied + (this.#noccupied >> 4)
    ) {
      this.#resize();
    }
  }

  #resize(): void {
    const oldSize = this.#size;
    let wanted = Math.trunc(this.#nnodes * 1.333);
    let shift = 0;
    while (wanted) {
      wanted >>= 1;
      shift++;
    }
    this.#shift = Math.max(shift, MIN_SHIFT);
    const size = this.#size;
    if (size > oldSize) {
      for (let i = oldSize; i < size; i++) {
        this.#hashes[i] = UNUSED;
        this.#keys[i] = undefined;
      }
    }
    const relocated = new Set<number>();
    const mask = size - 1;
    for (let i = 0; i < oldSize; i++) {
      let nodeHash = this.#hashes[i] as number;
      if (nodeHash <= TOMBSTONE) {
        this.#hashes[i] = UNUSED;
        continue;
      }
      if (relocated.has(i)) continue;
      this.#hashes[i] = UNUSED;
      let key = this.#keys[i];
      this.#keys[i] = undefined;
      for (;;) {
        let index = this.#index(nodeHash);
        let step = 0;
        while (relocated.has(index)) {
          step++;
          index = (index + step) & mask;
        }
        relocated.add(index);
        const replacedHash = this.#hashes[index] as number;
        const replacedKey = this.#keys[index];
        this.#hashes[index] = nodeHash;
        this.#keys[index] = key;
        if (replacedHash <= TOMBSTONE) break;
        nodeHash = replacedHash;
        key = replacedKey;
      }
    }
    // A shrink leaves the tail of the old arrays unused.
    this.#hashes.length = size;
    this.#keys.length = size;
    this.#noccupied = this.#nnodes;
  }
}
