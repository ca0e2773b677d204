/**
 * The on-disk form of a profile (`profiles/qemu-<version>/<machine>.qprof`), built so start-up reads only what
 * it uses. A whole profile is ~2 MB of JSON whose reply texts are JSON inside JSON strings: gunzip + decode +
 * `JSON.parse` of all of it cost more than real QEMU's whole start-up. Instead the file is:
 *
 *   u32 LE header length | header JSON | slots: u32 LE × 3 per reply text | chunk 0 | chunk 1 | …
 *
 * The header holds the small parts (greeting, arguments, crashes, volatile keys, chunk lengths, the chunk of each
 * command's keys), a few KB of plain JSON: a fake reads it when it loads the machine and inflates nothing else
 * until a reply is asked for. The slots say where each reply text lives: chunk, start, end (UTF-16 offsets into
 * the chunk's decoded text), read in place, since parsing thousands of numbers cost a one-command fake more than
 * the reply it serves. Request keys are chunks too, one per command (`commands[name]`), since q35's 3,800 keys
 * alone are 280 KB of JSON. Reply texts are grouped by command (split past {@link CHUNK_CHARS}), so
 * `query-qmp-schema` costs its own chunk and never the 3 MB of `device-list-properties`. Each chunk is gzipped and
 * inflated on first use, except those of {@link STORED_PLAIN}: UTF-8 as is, listed in the header's `plain`.
 * One more plain chunk (the header's `schemaIndex`) says where each entry of `query-qmp-schema`'s return lies in
 * its chunk, so a fake's first commands decode the few entries they check instead of the schema's 207 KB.
 */
import { objectEnd } from "../dispatch/schema-text.ts";
import { PROFILE_FORMAT, type ProfileData } from "./format.ts";

/** A chunk grows past this many characters only when a single reply is larger. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Commands whose chunks (reply texts and keys) are stored without gzip. A fake's first command reads the schema
 * to check its arguments, and inflating those 207 KB was ~0.5 ms of the CLI's one-command `--fake`; stored plain,
 * each profile grows by ~190 KB.
 */
const STORED_PLAIN: ReadonlySet<string> = new Set(["query-qmp-schema"]);

/** The header of a packed profile: {@link ProfileData} with the pool and the keys replaced by where they are. */
export interface PackedHeader extends Omit<ProfileData, "pool" | "replies"> {
  /** Byte length of each chunk as stored, in file order. */
  chunks: number[];
  /** The chunks stored as plain UTF-8 (the others are gzipped), ascending. */
  plain: number[];
  /** How many reply texts the pool holds (the slots that follow the header). */
  texts: number;
  /** Command name → the chunk holding its {@link KeyChunk}. */
  commands: Record<string, number>;
  /** The chunk holding the schema's {@link SchemaLayout} text; absent when no schema was recorded. */
  schemaIndex?: number;
}

/** The key whose reply is the schema. */
const SCHEMA_KEY = "query-qmp-schema";
const RETURN_ARRAY = '{"return": [';

/**
 * Where each entry of a recorded schema lies, in the bytes of the (plain) chunk holding it. The index is ASCII
 * text: a first line `<chunk> <id>`, then a line `<name>\t<start>\t<end>` per entry, sorted by name, so a name is
 * found by a binary search over the stored bytes, with nothing decoded or parsed but the entry itself. `<id>` is
 * a hash of the schema's text: profiles of one QEMU share what was read of it.
 */
export interface SchemaLayout {
  /** Equal for equal schema texts. */
  readonly id: string;
  /** The text of the entry named `name` (exactly as in the schema), or undefined when the schema has none. */
  entryText(name: string): string | undefined;
}

/**
 * The schema index's text for the schema return `text`, found at byte `base` of its chunk. Each entry's span is
 * checked against the full parse, so the index never disagrees with the schema.
 */
function schemaIndexText(text: string, chunk: number, base: number): string {
  if (!text.startsWith(RETURN_ARRAY)) throw new Error("query-qmp-schema's reply is not a return array");
  const entries = (JSON.parse(text) as { return: { name: string }[] }).return;
  const seen = new Set<string>();
  const lines: string[] = [];
  // Offsets are in UTF-8 bytes, counted as the walk goes (QEMU writes the schema in ASCII, but need not).
  let at = RETURN_ARRAY.length;
  let bytes = base + Buffer.byteLength(text.slice(0, at));
  for (const entry of entries) {
    const start = text.indexOf("{", at);
    const end = objectEnd(text, start);
    const entryText = text.slice(start, end);
    if (JSON.stringify(JSON.parse(entryText)) !== JSON.stringify(entry))
      throw new Error(`query-qmp-schema: entry ${JSON.stringify(entry.name)} is not where the walk found it`);
    if (!/^[\x20-\x7e]+$/.test(entry.name) || seen.has(entry.name))
      throw new Error(
        `query-qmp-schema: entry name ${JSON.stringify(entry.name)} cannot be indexed (not unique ASCII)`,
      );
    seen.add(entry.name);
    bytes += Buffer.byteLength(text.slice(at, start));
    const length = Buffer.byteLength(entryText);
    lines.push(`${entry.name}\t${bytes}\t${bytes + length}`);
    bytes += length;
    at = end;
  }
  // Code-unit order, the same as byte order for these ASCII names: what findLine's binary search expects.
  lines.sort((a, b) => {
    const nameA = a.slice(0, a.indexOf("\t"));
    const nameB = b.slice(0, b.indexOf("\t"));
    return nameA < nameB ? -1 : nameA > nameB ? 1 : 0;
  });
  return [`${chunk} ${Bun.hash(text).toString(16)}`, ...lines].join("\n");
}

/** The request keys of one command, as a chunk holds them (JSON). */
interface KeyChunk {
  keys: string[];
  /** Pool index of each key's reply. */
  pool: number[];
  /** Each key's position among all keys, in recording order. */
  order: number[];
}

/** The command a request key is for: the key up to its first space. */
function commandOfKey(key: string): string {
  const space = key.indexOf(" ");
  return space === -1 ? key : key.slice(0, space);
}

/** Packs `data` (as the recorder builds it) into the `.qprof` layout; deterministic for the same data. */
export function packProfile(data: ProfileData): Uint8Array<ArrayBuffer> {
  // Group pool texts by the command of the first key that refers to them, in recording order.
  const commandOf = new Map<number, string>();
  const keyChunks = new Map<string, KeyChunk>();
  Object.entries(data.replies).forEach(([key, index], order) => {
    const command = commandOfKey(key);
    if (!commandOf.has(index)) commandOf.set(index, command);
    let chunk = keyChunks.get(command);
    if (chunk === undefined) {
      chunk = { keys: [], pool: [], order: [] };
      keyChunks.set(command, chunk);
    }
    chunk.keys.push(key);
    chunk.pool.push(index);
    chunk.order.push(order);
  });
  const groups = new Map<string, number[]>();
  for (let index = 0; index < data.pool.length; index++) {
    const command = commandOf.get(index) ?? "";
    let group = groups.get(command);
    if (group === undefined) {
      group = [];
      groups.set(command, group);
    }
    group.push(index);
  }
  const slots = new Array<number>(data.pool.length * 3).fill(0);
  const chunkTexts: string[] = [];
  const plain: number[] = [];
  for (const [command, indices] of groups) {
    if (STORED_PLAIN.has(command)) plain.push(chunkTexts.length);
    let text = "";
    for (const index of indices) {
      const reply = data.pool[index] as string;
      if (text.length > 0 && text.length + reply.length > CHUNK_CHARS) {
        chunkTexts.push(text);
        text = "";
        if (STORED_PLAIN.has(command)) plain.push(chunkTexts.length);
      }
      slots[index * 3] = chunkTexts.length;
      slots[index * 3 + 1] = text.length;
      slots[index * 3 + 2] = text.length + reply.length;
      text += reply;
    }
    if (text.length > 0) chunkTexts.push(text);
  }
  const commands: Record<string, number> = {};
  for (const [command, keyChunk] of keyChunks) {
    if (STORED_PLAIN.has(command)) plain.push(chunkTexts.length);
    commands[command] = chunkTexts.length;
    chunkTexts.push(JSON.stringify(keyChunk));
  }
  let schemaIndex: number | undefined;
  const schemaPool = data.replies[SCHEMA_KEY];
  if (schemaPool !== undefined && (data.pool[schemaPool] as string).startsWith(RETURN_ARRAY)) {
    const chunk = slots[schemaPool * 3] as number;
    const start = slots[schemaPool * 3 + 1] as number;
    const base = Buffer.byteLength((chunkTexts[chunk] as string).slice(0, start));
    schemaIndex = chunkTexts.length;
    plain.push(schemaIndex);
    chunkTexts.push(schemaIndexText(data.pool[schemaPool] as string, chunk, base));
  }
  const encoder = new TextEncoder();
  const chunks = chunkTexts.map((text, chunk) =>
    plain.includes(chunk) ? encoder.encode(text) : Bun.gzipSync(text, { level: 9 }),
  );
  const { pool, replies: _replies, ...rest } = data;
  const header: PackedHeader = {
    ...rest,
    chunks: chunks.map((c) => c.length),
    plain,
    texts: pool.length,
    commands,
    ...(schemaIndex === undefined ? {} : { schemaIndex }),
  };
  const headerBytes = encoder.encode(JSON.stringify(header));
  const slotBytes = new Uint8Array(slots.length * 4);
  const slotView = new DataView(slotBytes.buffer);
  for (let i = 0; i < slots.length; i++) slotView.setUint32(i * 4, slots[i] as number, true);
  const parts = [headerBytes, slotBytes, ...chunks];
  const out = new Uint8Array(4 + parts.reduce((sum, part) => sum + part.length, 0));
  new DataView(out.buffer).setUint32(0, headerBytes.length, true);
  let offset = 4;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const decoder = new TextDecoder();

const LF = 0x0a;
const TAB = 0x09;

/**
 * Where the schema index's line for `name` starts in `bytes[lo, hi)`, or -1: a binary search over its lines,
 * which are sorted by name (ASCII, so byte order is string order). A search through the text instead costs a
 * few µs per KB in JavaScriptCore, whatever the needle.
 */
function findLine(bytes: Uint8Array, lo: number, hi: number, name: string): number {
  while (lo < hi) {
    // lo starts a line, so the byte before it is a line feed: the search back stops there at the latest.
    const line = bytes.lastIndexOf(LF, ((lo + hi) >>> 1) - 1) + 1;
    // The line's name against `name`; a tab ends the line's name, so a prefix sorts first.
    let order = 0;
    for (let i = 0; ; i++) {
      const byte = bytes[line + i] as number;
      if (byte === TAB || i === name.length) {
        order = byte === TAB ? (i === name.length ? 0 : -1) : 1;
        break;
      }
      order = byte - name.charCodeAt(i);
      if (order !== 0) break;
    }
    if (order === 0) return line;
    if (order > 0) hi = line;
    else {
      const next = bytes.indexOf(LF, line);
      lo = next === -1 || next >= hi ? hi : next + 1;
    }
  }
  return -1;
}

/** The decimal number written at `at` (up to the next non-digit). */
function readNumber(bytes: Uint8Array, at: number): number {
  let value = 0;
  for (let i = at; i < bytes.length; i++) {
    const digit = (bytes[i] as number) - 0x30;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  return value;
}

/** The little-endian u32 at `at` (a DataView's first use alone costs more on a compiled binary's start-up). */
function u32le(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16)) +
    (bytes[at + 3] as number) * 0x1000000
  );
}

/**
 * Bytes `[start, end)` of a packed profile, at once (fewer at the end of the file). A reader of the file itself
 * lets a profile copy only what it uses: the CLI's one-command fake reads ~30 KB of a 390 KB profile.
 */
export type ProfileReader = (start: number, end: number) => Uint8Array<ArrayBuffer>;

/** A packed profile read from bytes: the header at once, each chunk of reply texts when first asked for. */
export class PackedProfile {
  readonly header: PackedHeader;
  readonly #read: ProfileReader;
  /** Where the slots start. */
  readonly #slotsAt: number;
  #slots: Uint8Array<ArrayBuffer> | undefined;
  #offsets: number[] | undefined;
  #layout: SchemaLayout | null | undefined;
  readonly #texts: (string | undefined)[] = [];
  readonly #keys = new Map<string, Map<string, number>>();

  /** From the whole file's bytes, or from a reader of the file (see {@link ProfileReader}). */
  constructor(source: Uint8Array<ArrayBuffer> | ProfileReader) {
    const read =
      typeof source === "function" ? source : (start: number, end: number) => source.subarray(start, end);
    const headerLength = u32le(read(0, 4), 0);
    const header = JSON.parse(decoder.decode(read(4, 4 + headerLength))) as PackedHeader;
    if (header.format !== PROFILE_FORMAT)
      throw new Error(`unsupported profile format ${String(header.format)}`);
    this.header = header;
    this.#read = read;
    this.#slotsAt = 4 + headerLength;
  }

  /** How many reply texts the pool holds. */
  get size(): number {
    return this.header.texts;
  }

  /** The pool index of the reply to request `key`, or undefined when that request was not recorded. */
  poolIndex(key: string): number | undefined {
    return this.#keysOf(commandOfKey(key))?.get(key);
  }

  /** Every request key, in recording order (reads every key chunk). */
  keys(): string[] {
    const all: string[] = [];
    for (const chunk of Object.values(this.header.commands)) {
      const { keys, order } = JSON.parse(this.#chunkText(chunk)) as KeyChunk;
      keys.forEach((key, i) => {
        all[order[i] as number] = key;
      });
    }
    return all;
  }

  #keysOf(command: string): Map<string, number> | undefined {
    let keys = this.#keys.get(command);
    if (keys === undefined) {
      // hasOwn: a key like `constructor …` must not find Object.prototype's members.
      const { commands } = this.header;
      if (!Object.hasOwn(commands, command)) return undefined;
      const parsed = JSON.parse(this.#chunkText(commands[command] as number)) as KeyChunk;
      keys = new Map();
      for (let i = 0; i < parsed.keys.length; i++)
        keys.set(parsed.keys[i] as string, parsed.pool[i] as number);
      this.#keys.set(command, keys);
    }
    return keys;
  }

  /** The reply text at pool index `index`. */
  text(index: number): string {
    this.#slots ??= this.#read(this.#slotsAt, this.#slotsAt + this.header.texts * 12);
    const slots = this.#slots;
    const at = index * 12;
    return this.#chunkText(u32le(slots, at)).slice(u32le(slots, at + 4), u32le(slots, at + 8));
  }

  /** Where the recorded schema's entries lie, or undefined when the profile has no schema. */
  schemaLayout(): SchemaLayout | undefined {
    // Made once: the dispatcher and the VM's reply shapes each ask for it.
    if (this.#layout !== undefined) return this.#layout ?? undefined;
    this.#layout = null;
    const { schemaIndex } = this.header;
    if (schemaIndex === undefined || !this.header.plain.includes(schemaIndex)) return undefined;
    // Read in place: decoding the index alone cost as much as the look-ups a session makes in it.
    const offsets = this.#chunkOffsets();
    const from = offsets[schemaIndex] as number;
    const lines = this.#read(from, from + (this.header.chunks[schemaIndex] as number));
    const linesAt = lines.indexOf(LF) + 1;
    const [chunk = "", id = ""] = decoder.decode(lines.subarray(0, linesAt - 1)).split(" ");
    const base = offsets[Number(chunk)] as number;
    const read = this.#read;
    this.#layout = {
      id,
      entryText(name) {
        const at = findLine(lines, linesAt, lines.length, name);
        if (at === -1) return undefined;
        const start = readNumber(lines, at + name.length + 1);
        const end = readNumber(lines, at + name.length + 1 + String(start).length + 1);
        return decoder.decode(read(base + start, base + end));
      },
    };
    return this.#layout;
  }

  #chunkText(chunk: number): string {
    let text = this.#texts[chunk];
    if (text === undefined) {
      const start = this.#chunkOffsets()[chunk] as number;
      const stored = this.#read(start, start + (this.header.chunks[chunk] as number));
      text = decoder.decode(this.header.plain.includes(chunk) ? stored : Bun.gunzipSync(stored));
      this.#texts[chunk] = text;
    }
    return text;
  }

  #chunkOffsets(): number[] {
    if (this.#offsets !== undefined) return this.#offsets;
    const offsets: number[] = [];
    let offset = this.#slotsAt + this.header.texts * 12;
    for (const length of this.header.chunks) {
      offsets.push(offset);
      offset += length;
    }
    this.#offsets = offsets;
    return offsets;
  }
}
