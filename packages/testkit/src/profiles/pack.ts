/**
 * The on-disk form of a profile (`profiles/qemu-<version>/<machine>.qprof`), built so start-up reads only what
 * it uses. A whole profile is ~2 MB of JSON whose reply texts are JSON inside JSON strings: gunzip + decode +
 * `JSON.parse` of all of it cost more than real QEMU's whole start-up. Instead the file is:
 *
 *   u32 LE header length | gzip(header JSON) | gzip(chunk 0) | gzip(chunk 1) | …
 *
 * The header holds the small parts (greeting, arguments, crashes, volatile keys), the chunk lengths, and where
 * each reply text lives: `slots[3i..3i+2]` = chunk, start, end (UTF-16 offsets into the chunk's decoded text).
 * Request keys are chunks too, one per command (`commands[name]`), since q35's 3,800 keys alone are 280 KB of
 * JSON. Reply texts are grouped by command (split past {@link CHUNK_CHARS}), so `query-qmp-schema` costs its own
 * chunk and never the 3 MB of `device-list-properties`. Each chunk is inflated on first use.
 */
import { PROFILE_FORMAT, type ProfileData } from "./format.ts";

/** A chunk grows past this many characters only when a single reply is larger. */
const CHUNK_CHARS = 64 * 1024;

/** The header of a packed profile: {@link ProfileData} with the pool and the keys replaced by where they are. */
export interface PackedHeader extends Omit<ProfileData, "pool" | "replies"> {
  /** Compressed byte length of each chunk, in file order. */
  chunks: number[];
  /** Flat triples per pool index: chunk, start, end. */
  slots: number[];
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
export function packProfile(data: ProfileData): Uint8Array {
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
  for (const indices of groups.values()) {
    let text = "";
    for (const index of indices) {
      const reply = data.pool[index] as string;
      if (text.length > 0 && text.length + reply.length > CHUNK_CHARS) {
        chunkTexts.push(text);
        text = "";
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
    commands[command] = chunkTexts.length;
    chunkTexts.push(JSON.stringify(keyChunk));
  }
  const chunks = chunkTexts.map((text) => Bun.gzipSync(text, { level: 9 }));
  const { pool: _pool, replies: _replies, ...rest } = data;
  const header: PackedHeader = { ...rest, chunks: chunks.map((c) => c.length), slots, commands };
  const headerGz = Bun.gzipSync(JSON.stringify(header), { level: 9 });
  const out = new Uint8Array(4 + headerGz.length + chunks.reduce((sum, c) => sum + c.length, 0));
  new DataView(out.buffer).setUint32(0, headerGz.length, true);
  out.set(headerGz, 4);
  let offset = 4 + headerGz.length;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** A packed profile read from bytes: the header at once, each chunk of reply texts when first asked for. */
export class PackedProfile {
  readonly header: PackedHeader;
  readonly #bytes: Uint8Array<ArrayBuffer>;
  readonly #offsets: number[] = [];
  readonly #texts: (string | undefined)[] = [];
  readonly #keys = new Map<string, Map<string, number>>();

  constructor(bytes: Uint8Array<ArrayBuffer>) {
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
    const header = JSON.parse(
      new TextDecoder().decode(Bun.gunzipSync(bytes.subarray(4, 4 + headerLength))),
    ) as PackedHeader;
    if (header.format !== PROFILE_FORMAT)
      throw new Error(`unsupported profile format ${String(header.format)}`);
    this.header = header;
    this.#bytes = bytes;
    let offset = 4 + headerLength;
    for (const length of header.chunks) {
      this.#offsets.push(offset);
      offset += length;
    }
  }

  /** How many reply texts the pool holds. */
  get size(): number {
    return this.header.slots.length / 3;
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
      if (!Object.hasOwn(this.header.commands, command)) return undefined;
      const parsed = JSON.parse(this.#chunkText(this.header.commands[command] as number)) as KeyChunk;
      keys = new Map(parsed.keys.map((key, i) => [key, parsed.pool[i] as number]));
      this.#keys.set(command, keys);
    }
    return keys;
  }

  /** The reply text at pool index `index`. */
  text(index: number): string {
    const { slots } = this.header;
    return this.#chunkText(slots[index * 3] as number).slice(slots[index * 3 + 1], slots[index * 3 + 2]);
  }

  #chunkText(chunk: number): string {
    let text = this.#texts[chunk];
    if (text === undefined) {
      const start = this.#offsets[chunk] as number;
      const length = this.header.chunks[chunk] as number;
      text = new TextDecoder().decode(Bun.gunzipSync(this.#bytes.subarray(start, start + length)));
      this.#texts[chunk] = text;
    }
    return text;
  }
}
