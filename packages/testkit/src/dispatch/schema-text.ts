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
 * A recorded profile does better: it was packed with each entry's place (a {@link SchemaEntries}), so an entry is
 * decoded from its own bytes and the text as a whole only when `query-qmp-schema` or all entries are asked for.
 */
import type { SchemaEntry } from "@qmpkit/qmp/qapi";

/** A schema whose entries can be read one by one without its whole text (a packed profile's). */
export interface SchemaEntries {
  /** The whole return text. */
  text(): string;
  /** The text of the entry named `name`, or undefined when the schema has no entry of that name. */
  entryText(name: string): string | undefined;
}

const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;

/** A `query-qmp-schema` return text whose entries are parsed when asked for by name. */
export class SchemaText {
  #text: string | undefined;
  readonly #entries: SchemaEntries | undefined;
  /** Entries looked up so far; null for a name the schema lacks. */
  readonly #found = new Map<string, SchemaEntry | null>();
  #all: SchemaEntry[] | undefined;
  #byName: Map<string, SchemaEntry> | undefined;

  constructor(source: string | SchemaEntries) {
    if (typeof source === "string") this.#text = source;
    else this.#entries = source;
  }

  /** The return value exactly as QEMU wrote it (a JSON array). */
  get text(): string {
    this.#text ??= (this.#entries as SchemaEntries).text();
    return this.#text;
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
    const found = this.#found.get(name);
    if (found !== undefined) return found ?? undefined;
    let entry: SchemaEntry | null;
    if (this.#entries !== undefined) {
      // Only entries are indexed, so what is found is one (it has a meta-type). Read here rather than through a
      // helper: a short session's few look-ups all take this path, and each function first run costs.
      const entryText = this.#entries.entryText(name);
      entry = entryText === undefined ? null : (JSON.parse(entryText) as SchemaEntry);
    } else entry = this.#search(name);
    this.#found.set(name, entry);
    return entry ?? undefined;
  }

  #search(name: string): SchemaEntry | null {
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

/**
 * Up to and including the next bracket or brace outside a string. One native match per bracket, instead of a
 * JavaScript loop per character: a short session looks up a handful of entries and never warms such a loop up
 * (a per-character loop cost 0.15 ms of tier-up on the fifth look-up in the compiled CLI).
 */
const TO_NEXT_BRACKET = /[^"{}[\]]*(?:"(?:[^"\\]|\\[\s\S])*"[^"{}[\]]*)*[{}[\]]/y;

/** Where the JSON object starting at `start` ends (one past its closing brace). */
export function objectEnd(text: string, start: number): number {
  let depth = 0;
  TO_NEXT_BRACKET.lastIndex = start;
  while (TO_NEXT_BRACKET.test(text)) {
    const bracket = text.charCodeAt(TO_NEXT_BRACKET.lastIndex - 1);
    if (bracket === OPEN_BRACE || bracket === OPEN_BRACKET) depth++;
    else if (--depth === 0) return TO_NEXT_BRACKET.lastIndex;
  }
  // Unbalanced: hand JSON.parse the rest, so it reports the syntax error.
  return text.length;
}
