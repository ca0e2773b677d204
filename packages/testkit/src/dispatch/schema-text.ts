/**
 * QEMU's `query-qmp-schema` return as the text it wrote, read one entry at a time. Parsing and indexing all of
 * it (207 KB, ~1,100 entries) costs ~2–3 ms of a compiled CLI's start-up, yet a session that runs one command
 * reaches only that command's entry and the types its arguments use. So an entry is found by its name in the
 * text (`{"name": "query-status", …`), cut out and `JSON.parse`d on first use, and the whole schema is parsed
 * only when something asks for all of it.
 *
 * This relies on the shape of QEMU's output: every entry is an object whose first member is `"name"`, written
 * with QEMU's `": "` separator. Nested objects (object and enum members, variants) can start the same way, but
 * only an entry has a `meta-type`. A test checks every entry of each recorded schema against the full parse.
 */
import type { SchemaEntry } from "@qmpkit/qmp/qapi";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** A `query-qmp-schema` return text whose entries are parsed when asked for by name. */
export class SchemaText {
  /** The return value exactly as QEMU wrote it (a JSON array). */
  readonly text: string;
  /** Entries looked up so far; null for a name the schema lacks. */
  readonly #found = new Map<string, SchemaEntry | null>();
  #all: SchemaEntry[] | undefined;
  #byName: Map<string, SchemaEntry> | undefined;

  constructor(text: string) {
    this.text = text;
  }

  /** Every entry, in QEMU's order (parses the whole text, once; the array is shared: do not change it). */
  entries(): SchemaEntry[] {
    this.#all ??= JSON.parse(this.text) as SchemaEntry[];
    return this.#all;
  }

  /** The entry named `name`, if the schema has one. */
  entry(name: string): SchemaEntry | undefined {
    if (this.#all !== undefined) {
      this.#byName ??= new Map(this.#all.map((entry) => [entry.name, entry]));
      return this.#byName.get(name);
    }
    let entry = this.#found.get(name);
    if (entry === undefined) {
      entry = this.#find(name);
      this.#found.set(name, entry);
    }
    return entry ?? undefined;
  }

  #find(name: string): SchemaEntry | null {
    const { text } = this;
    // JSON.stringify spells a QAPI name as QEMU does; a name needing escapes matches nothing, as in the schema.
    const needle = `{"name": ${JSON.stringify(name)}`;
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
      const next = text.charCodeAt(at + needle.length);
      // `{"name": "size"` must not find `{"name": "size-limit"`.
      if (next !== COMMA && next !== CLOSE_BRACE) continue;
      const parsed = JSON.parse(text.slice(at, objectEnd(text, at))) as Partial<SchemaEntry>;
      // Members, enum values and variants never have a meta-type: this one is a member of that name.
      if (typeof parsed["meta-type"] === "string") return parsed as SchemaEntry;
    }
    return null;
  }
}

/** Where the JSON object starting at `start` ends (one past its closing brace). */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  // Unbalanced: hand JSON.parse the rest, so it reports the syntax error.
  return text.length;
}

/** The index of the quote that closes the string opening at `open`. */
function stringEnd(text: string, open: number): number {
  let close = text.indexOf('"', open + 1);
  while (close !== -1 && escaped(text, close)) close = text.indexOf('"', close + 1);
  return close === -1 ? text.length : close;
}

/** Whether the character at `index` follows an odd number of backslashes. */
function escaped(text: string, index: number): boolean {
  let count = 0;
  for (let i = index - 1; i >= 0 && text.charCodeAt(i) === BACKSLASH; i--) count++;
  return count % 2 === 1;
}
