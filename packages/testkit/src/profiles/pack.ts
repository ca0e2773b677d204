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
 */
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

/** The little-endian u32 at `at` (a DataView's first use alone costs more on a compiled binary's start-up). */
function u32le(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16)) +
    (bytes[at + 3] as number) * 0x1000000
  );
}

/** A packed profile read from bytes: the header at once, each chunk of reply texts when first asked for. */
export class PackedProfile {
  readonly header: PackedHeader;
  readonly #bytes: Uint8Array<ArrayBuffer>;
  /** Where the slots start. */
  readonly #slotsAt: number;
  #offsets: number[] | undefined;
  readonly #texts: (string | undefined)[] = [];
  readonly #keys = new Map<string, Map<string, number>>();

  constructor(bytes: Uint8Array<ArrayBuffer>) {
    const headerLength = u32le(bytes, 0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength))) as PackedHeader;
    if (header.format !== PROFILE_FORMAT)
      throw new Error(`unsupported profile format ${String(header.format)}`);
    this.header = header;
    this.#bytes = bytes;
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
    const at = this.#slotsAt + index * 12;
    return this.#chunkText(u32le(this.#bytes, at)).slice(
      u32le(this.#bytes, at + 4),
      u32le(this.#bytes, at + 8),
    );
  }

  #chunkText(chunk: number): string {
    let text = this.#texts[chunk];
    if (text === undefined) {
      const length = this.header.chunks[chunk] as number;
      const start = this.#chunkOffsets()[chunk] as number;
      const stored = this.#bytes.subarray(start, start + length);
      text = new TextDecoder().decode(this.header.plain.includes(chunk) ? stored : Bun.gunzipSync(stored));
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
