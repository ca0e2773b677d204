/**
 * QEMU's way of writing JSON, reproduced so the fake's bytes match a real monitor's: `": "` and `", "`
 * separators, every non-ASCII character and DEL escaped as `\uXXXX` (upper-case hex, surrogate pairs above the
 * BMP), floating-point numbers printed with C's `%.17g`, and dictionaries that QEMU builds itself (the echoed
 * `id`) written in the iteration order of its `QDict` hash table.
 */

// QDict keeps 512 buckets; iteration walks the buckets in index order and each bucket's list from its head, and a
// new key is inserted at the head, so of two keys sharing a bucket the one inserted later comes first.
const QDICT_BUCKETS = 512;
const hashCache = new Map<string, number>();

/** The bucket QEMU's `QDict` puts `key` in (its `tdb_hash` over the UTF-8 bytes, modulo 512). */
export function qdictBucket(key: string): number {
  const cached = hashCache.get(key);
  if (cached !== undefined) return cached;
  const bucket = tdbHash(key) % QDICT_BUCKETS;
  if (hashCache.size < 10_000) hashCache.set(key, bucket);
  return bucket;
}

function tdbHash(key: string): number {
  const bytes = utf8(key);
  let value = Math.imul(0x238f13af, bytes.length) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = typeof bytes === "string" ? bytes.charCodeAt(i) : (bytes[i] as number);
    value = (value + ((byte << ((i * 5) % 24)) >>> 0)) >>> 0;
  }
  return (Math.imul(1103515243, value) + 12345) >>> 0;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the whole ASCII range is the point.
const ASCII = /^[\u0000-\u007f]*$/;

/**
 * A key's UTF-8 bytes, for QEMU's and GLib's hashes: keys are nearly always ASCII, whose UTF-8 bytes are their
 * char codes, so the key itself stands for them; anything else is encoded.
 */
function utf8(key: string): string | Uint8Array {
  return ASCII.test(key) ? key : Buffer.from(key, "utf8");
}

/** `keys` (in insertion order) reordered the way QEMU iterates a `QDict` built by inserting them in that order. */
const orderCache = new Map<string, readonly string[]>();

export function qdictOrder(keys: readonly string[]): readonly string[] {
  if (keys.length < 2) return keys;
  // Messages repeat the same few key lists ({execute, id}, {execute, arguments, id}): remember their order.
  const cacheKey = keys.join("\u0000");
  const cached = orderCache.get(cacheKey);
  if (cached !== undefined) return cached;
  // An insertion sort by bucket, in insertion order: a key goes before every key of its bucket already placed
  // (head insertion). Plain loops: a sort with a comparator runs three more functions on a short session's path.
  const ordered: string[] = [];
  const buckets: number[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const bucket = qdictBucket(key);
    let at = i;
    for (; at > 0 && (buckets[at - 1] as number) >= bucket; at--) {
      ordered[at] = ordered[at - 1] as string;
      buckets[at] = buckets[at - 1] as number;
    }
    ordered[at] = key;
    buckets[at] = bucket;
  }
  if (orderCache.size < 1000) orderCache.set(cacheKey, ordered);
  return ordered;
}

/** C's `printf("%.17g", value)`, which QEMU uses for every floating-point number it writes. */
export function formatG17(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  const [mantissa = "0", exponentText = "0"] = value.toExponential(16).split("e");
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 17) {
    const trimmed = mantissa.includes(".") ? mantissa.replace(/0+$/, "").replace(/\.$/, "") : mantissa;
    const sign = exponent < 0 ? "-" : "+";
    return `${trimmed}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  const fixed = value.toFixed(16 - exponent);
  return fixed.includes(".") ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed;
}

/**
 * The iteration order of a GLib `GHashTable` of strings after inserting `keys` in order: QEMU's input visitor
 * keeps the members it has not visited yet in one, and reports the first leftover as unexpected. Exact for
 * tables of up to 7 keys (no resize); larger ones are approximated by inserting into a table of the final size.
 */
export function ghashOrder(keys: readonly string[]): readonly string[] {
  if (keys.length < 2) return keys;
  let shift = 3;
  while (1 << shift <= keys.length + Math.floor(keys.length / 16)) shift++;
  const size = 1 << shift;
  const mod = GHASH_PRIMES[shift] ?? 8191;
  const slots: (string | undefined)[] = new Array(size);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as string;
    let index = Math.imul(gStrHash(key), 11) >>> 0;
    index %= mod;
    let step = 0;
    while (slots[index] !== undefined) {
      step++;
      index = (index + step) & (size - 1);
    }
    slots[index] = key;
  }
  const ordered: string[] = [];
  for (let i = 0; i < size; i++) {
    const key = slots[i];
    if (key !== undefined) ordered.push(key);
  }
  return ordered;
}

// GLib's table sizes (powers of two) and the prime it reduces hashes with for each.
const GHASH_PRIMES = [1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191];

/** GLib's `g_str_hash` (djb2 over the UTF-8 bytes read as signed char), never below 2 as GHashTable keeps it. */
function gStrHash(key: string): number {
  const bytes = utf8(key);
  let hash = 5381;
  for (let i = 0; i < bytes.length; i++) {
    const byte = typeof bytes === "string" ? bytes.charCodeAt(i) : (bytes[i] as number);
    hash = (Math.imul(hash, 33) + (byte > 127 ? byte - 256 : byte)) >>> 0;
  }
  return Math.max(hash, 2);
}

// Characters QEMU escapes: quote, backslash, C0 controls, DEL and everything beyond ASCII.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;
const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** A JSON string literal the way QEMU writes it. */
export function quoteString(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return `"${text}"`;
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const code = text.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (code < 0x20 || code >= 0x7f) {
      // UTF-16 units are what QEMU prints for astral characters too (as a surrogate pair); a lone surrogate in a
      // JS string cannot come from valid UTF-8, and QEMU would print U+FFFD for it.
      const isLone =
        (code >= 0xd800 && code <= 0xdbff && !isLow(text.charCodeAt(i + 1))) ||
        (code >= 0xdc00 && code <= 0xdfff && !isHigh(text.charCodeAt(i - 1)));
      out += `\\u${(isLone ? 0xfffd : code).toString(16).toUpperCase().padStart(4, "0")}`;
    } else out += ch;
  }
  return `${out}"`;
}

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Already-serialised JSON that the fake writes verbatim (a recorded reply, a huge generated value), so a large
 * constant is encoded once instead of per reply.
 *
 * @example
 * fake.handle("query-big", () => new RawJson(cachedText));
 */
export class RawJson {
  /** The JSON text, written as is. */
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }
}

/**
 * Serialises `value` the way QEMU's JSON writer does. Object keys keep their JavaScript order unless
 * `qdict` is true, in which case they are written in QEMU's hash-table order (as for an echoed `id`).
 * `undefined` members are skipped; functions, symbols and bigints outside the int64 range are not JSON and throw.
 */
export function encodeQemuJson(value: unknown, qdict = false): string {
  switch (typeof value) {
    case "string":
      return quoteString(value);
    case "number":
      // QEMU keeps integers as int64/uint64 and prints them in full; everything else went through strtod. The
      // input parser turns an integer -0 into 0, so a -0 here was a float, which %.17g prints as "-0".
      return Number.isSafeInteger(value) && !Object.is(value, -0) ? String(value) : formatG17(value);
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "object": {
      if (value === null) return "null";
      if (value instanceof RawJson) return value.text;
      if (Array.isArray(value)) {
        if (value.length === 0) return "[]";
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ", ";
          const item: unknown = value[i];
          out += item === undefined ? "null" : encodeQemuJson(item, qdict);
        }
        return `${out}]`;
      }
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === "function") return encodeQemuJson(toJSON.call(value), qdict);
      const record = value as Record<string, unknown>;
      // Undefined members are skipped after ordering: a key's place in QDict order depends only on its own
      // bucket and insertion rank, so leaving some out does not move the others.
      const all = Object.keys(record);
      const keys = qdict ? qdictOrder(all) : all;
      let out = "";
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        const member = record[key];
        if (member === undefined) continue;
        out += `${out === "" ? "{" : ", "}${quoteString(key)}: ${encodeQemuJson(member, qdict)}`;
      }
      return out === "" ? "{}" : `${out}}`;
    }
    default:
      throw new TypeError(`Cannot serialise a ${typeof value} as QMP JSON`);
  }
}

/**
 * `value` as QEMU writes a return value or event payload it built as a QDict: members in hash-table order, which
 * depends on the order they were inserted (the QAPI member order). Build `value` in schema order, then wrap it.
 */
export function inQdictOrder(value: unknown): RawJson {
  return new RawJson(encodeQemuJson(value, true));
}
