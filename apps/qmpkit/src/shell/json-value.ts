/**
 * A small JSON reader for text a person typed: it reports *where* and *what was expected*
 * (JavaScriptCore's `JSON.parse` says only "Expected ']'"), keeps integers beyond 2^53 exact,
 * and builds objects without touching prototypes.
 *
 * Why exact integers matter: QMP has `uint64`/`size` arguments. `JSON.parse("18446744073709551615")`
 * yields 18446744073709552000, and QEMU would receive a different number. Such literals become
 * `JSON.rawJSON(text)` values, which `JSON.stringify` writes back verbatim.
 */

/** A parse failure: `offset` is the 0-based index in the text where reading stopped. */
export interface JsonFailure {
  readonly ok: false;
  readonly message: string;
  readonly offset: number;
}

export type JsonResult = { readonly ok: true; readonly value: unknown } | JsonFailure;

export interface JsonReadOptions {
  /**
   * Also accept `'single-quoted'` strings, as qmp-shell does for values typed like Python literals.
   * @default false
   */
  readonly singleQuotes?: boolean;
}

// Deeper nesting than this is certainly a typo or an attack, and recursion must not overflow.
const MAX_DEPTH = 512;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** Turns JSON number text into a value that serialises back to the same number. */
export function jsonNumber(text: string): unknown {
  const value = Number(text);
  const isInteger = !/[.eE]/.test(text);
  if ((isInteger && !Number.isSafeInteger(value)) || !Number.isFinite(value)) return rawJson(text);
  return value;
}

/** Defines an own enumerable property, so a key like `__proto__` is data, not a prototype change. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Reads exactly one JSON value from `text` (surrounding whitespace allowed). */
export function readJson(text: string, options: JsonReadOptions = {}): JsonResult {
  const reader = new Reader(text, options.singleQuotes ?? false);
  try {
    reader.skipSpace();
    const value = reader.value(0);
    reader.skipSpace();
    if (reader.pos < text.length) reader.fail("end of JSON value");
    return { ok: true, value };
  } catch (error) {
    if (error instanceof JsonSyntax) return { ok: false, message: error.message, offset: error.offset };
    throw error;
  }
}

class JsonSyntax extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Describes the character at `pos` for messages: `'x'` or `end of input`. */
function found(text: string, pos: number): string {
  if (pos >= text.length) return "end of input";
  const ch = text[pos] as string;
  return ch === "'" ? `"'"` : `'${ch}'`;
}

class Reader {
  pos = 0;

  constructor(
    readonly text: string,
    readonly singleQuotes: boolean,
  ) {}

  fail(expected: string, at = this.pos): never {
    throw new JsonSyntax(`expected ${expected}, found ${found(this.text, at)}`, at);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && " \t\n\r".includes(this.text[this.pos] as string)) this.pos++;
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new JsonSyntax(`nesting deeper than ${MAX_DEPTH} levels`, this.pos);
    const ch = this.text[this.pos];
    if (ch === "{") return this.object(depth);
    if (ch === "[") return this.array(depth);
    if (ch === '"' || (ch === "'" && this.singleQuotes)) return this.string();
    for (const [word, value] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match) {
      this.pos += match[0].length;
      return jsonNumber(match[0]);
    }
    return this.fail("a JSON value");
  }

  object(depth: number): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    this.pos++; // '{'
    this.skipSpace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return result;
    }
    for (;;) {
      const quote = this.text[this.pos];
      if (quote !== '"' && !(quote === "'" && this.singleQuotes)) this.fail("a string key");
      const keyAt = this.pos;
      const key = this.string();
      if (Object.hasOwn(result, key)) throw new JsonSyntax(`duplicate key "${key}"`, keyAt);
      this.skipSpace();
      if (this.text[this.pos] !== ":") this.fail("':' after the key");
      this.pos++;
      this.skipSpace();
      setOwn(result, key, this.value(depth + 1));
      this.skipSpace();
      const next = this.text[this.pos];
      this.pos++;
      if (next === "}") return result;
      if (next !== ",") this.fail("',' or '}'", this.pos - 1);
      this.skipSpace();
    }
  }

  array(depth: number): unknown[] {
    const result: unknown[] = [];
    this.pos++; // '['
    this.skipSpace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return result;
    }
    for (;;) {
      result.push(this.value(depth + 1));
      this.skipSpace();
      const next = this.text[this.pos];
      this.pos++;
      if (next === "]") return result;
      if (next !== ",") this.fail("',' or ']'", this.pos - 1);
      this.skipSpace();
    }
  }

  string(): string {
    const start = this.pos;
    const quote = this.text[this.pos];
    this.pos++;
    let out = "";
    for (;;) {
      if (this.pos >= this.text.length) throw new JsonSyntax(`unterminated string`, start);
      const ch = this.text[this.pos] as string;
      if (ch === quote) {
        this.pos++;
        return out;
      }
      if (ch < " ") throw new JsonSyntax("control character in string (escape it)", this.pos);
      if (ch !== "\\") {
        out += ch;
        this.pos++;
        continue;
      }
      const esc = this.text[this.pos + 1];
      if (esc !== undefined && Object.hasOwn(ESCAPES, esc)) {
        out += ESCAPES[esc];
        this.pos += 2;
      } else if (esc === "'" && this.singleQuotes) {
        out += "'";
        this.pos += 2;
      } else if (esc === "u" && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) {
        out += String.fromCharCode(Number.parseInt(this.text.slice(this.pos + 2, this.pos + 6), 16));
        this.pos += 6;
      } else {
        throw new JsonSyntax(`invalid escape '\\${esc ?? ""}' in string`, this.pos);
      }
    }
  }
}
