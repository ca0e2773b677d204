/**
 * QEMU's JSON parser (qobject/json-parser.c semantics): a recursive descent over one message's tokens with
 * QEMU's error texts, where the first error wins, and QEMU's string decoding (escapes, modified UTF-8, the
 * exact text of a bad escape).
 */
import type { Token, Tok as TokTypes } from "./json-token.ts";

// json-token.ts's table, repeated so that this module (a chunk of its own, loaded on first use) imports no value
// from the lexer's chunk, which would put that module in a third chunk loaded on every start; `satisfies` keeps
// the two equal.
const Tok = {
  LCurly: 0,
  RCurly: 1,
  LSquare: 2,
  RSquare: 3,
  Colon: 4,
  Comma: 5,
  Integer: 6,
  Float: 7,
  Keyword: 8,
  String: 9,
} as const satisfies typeof TokTypes;

/** QEMU's recursive-descent parser over one message's tokens; the first error wins, as in QEMU. */
export class TokenParser {
  readonly #tokens: Token[];
  #pos = 0;
  error: string | undefined;

  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  parse(): unknown {
    return this.#value();
  }

  #fail(message: string): undefined {
    this.error ??= `JSON parse error, ${message.length > 1023 ? message.slice(0, 1023) : message}`;
    return undefined;
  }

  #value(): unknown {
    const token = this.#tokens[this.#pos];
    if (token === undefined) return this.#fail("premature EOI");
    switch (token.type) {
      case Tok.LCurly:
        return this.#object();
      case Tok.LSquare:
        return this.#array();
      case Tok.String:
        this.#pos++;
        return this.#string(token);
      case Tok.Integer: {
        this.#pos++;
        const n = Number(token.text);
        return n === 0 ? 0 : n;
      }
      case Tok.Float:
        this.#pos++;
        return Number(token.text);
      case Tok.Keyword:
        this.#pos++;
        if (token.text === "true") return true;
        if (token.text === "false") return false;
        if (token.text === "null") return null;
        return this.#fail(`invalid keyword '${token.text}'`);
      default:
        return this.#fail("expecting value");
    }
  }

  #object(): unknown {
    this.#pos++;
    const result: Record<string, unknown> = {};
    let token = this.#tokens[this.#pos];
    if (token === undefined) return this.#fail("premature EOI");
    if (token.type === Tok.RCurly) {
      this.#pos++;
      return result;
    }
    if (!this.#pair(result)) return undefined;
    token = this.#tokens[this.#pos++];
    if (token === undefined) return this.#fail("premature EOI");
    while (token.type !== Tok.RCurly) {
      if (token.type !== Tok.Comma) return this.#fail("expected separator in dict");
      if (!this.#pair(result)) return undefined;
      token = this.#tokens[this.#pos++];
      if (token === undefined) return this.#fail("premature EOI");
    }
    return result;
  }

  #pair(into: Record<string, unknown>): boolean {
    const peek = this.#tokens[this.#pos];
    if (peek === undefined) {
      this.#fail("premature EOI");
      return false;
    }
    const key = this.#value();
    if (this.error !== undefined) return false;
    if (typeof key !== "string") {
      this.#fail("key is not a string in object");
      return false;
    }
    const colon = this.#tokens[this.#pos++];
    if (colon === undefined) {
      this.#fail("premature EOI");
      return false;
    }
    if (colon.type !== Tok.Colon) {
      this.#fail("missing : in object pair");
      return false;
    }
    const value = this.#value();
    if (this.error !== undefined) return false;
    if (Object.hasOwn(into, key)) {
      this.#fail("duplicate key");
      return false;
    }
    // defineProperty, so a "__proto__" member from the wire stays a plain member instead of a prototype.
    Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
    return true;
  }

  #array(): unknown {
    this.#pos++;
    const result: unknown[] = [];
    let token = this.#tokens[this.#pos];
    if (token === undefined) return this.#fail("premature EOI");
    if (token.type === Tok.RSquare) {
      this.#pos++;
      return result;
    }
    result.push(this.#value());
    if (this.error !== undefined) return undefined;
    token = this.#tokens[this.#pos++];
    if (token === undefined) return this.#fail("premature EOI");
    while (token.type !== Tok.RSquare) {
      if (token.type !== Tok.Comma) return this.#fail("expected separator in list");
      result.push(this.#value());
      if (this.error !== undefined) return undefined;
      token = this.#tokens[this.#pos++];
      if (token === undefined) return this.#fail("premature EOI");
    }
    return result;
  }

  #string(token: Token): unknown {
    const text = token.text;
    const body = text.slice(1, -1);
    // Fast path: plain ASCII without escapes is its own value.
    if (!/[\\\u0080-\u00ff]/.test(body)) return body;
    return decodeQMPString(text.slice(1), (message) => this.#fail(message));
  }
}

/** Made on the first string that needs decoding, not when the module loads. */
let utf8: TextDecoder | undefined;

/**
 * Decodes a string token (Latin-1 view of its bytes, opening quote removed, closing quote kept) with QEMU's
 * escape rules. The closing quote stays so that an error quoting a short `\\u` escape shows what QEMU shows.
 */
function decodeQMPString(tail: string, fail: (message: string) => undefined): string | undefined {
  const body = tail.slice(0, -1);
  let out = "";
  let run: number[] = [];
  const flush = (): boolean => {
    if (run.length === 0) return true;
    // QEMU reads modified UTF-8, where NUL may be written as C0 80.
    const bytes: number[] = [];
    for (let k = 0; k < run.length; k++) {
      if (run[k] === 0xc0 && run[k + 1] === 0x80) {
        bytes.push(0);
        k++;
      } else bytes.push(run[k] as number);
    }
    try {
      utf8 ??= new TextDecoder("utf-8", { fatal: true });
      out += utf8.decode(Uint8Array.from(bytes));
    } catch {
      return false;
    }
    run = [];
    return true;
  };
  for (let i = 0; i < body.length; i++) {
    const code = body.charCodeAt(i);
    if (code !== 0x5c) {
      run.push(code);
      continue;
    }
    if (!flush()) return fail("invalid UTF-8 sequence in string");
    const begin = i;
    const esc = body[++i];
    switch (esc) {
      case '"':
      case "'":
      case "\\":
      case "/":
        out += esc;
        break;
      case "b":
        out += "\b";
        break;
      case "f":
        out += "\f";
        break;
      case "n":
        out += "\n";
        break;
      case "r":
        out += "\r";
        break;
      case "t":
        out += "\t";
        break;
      case "u": {
        let cp = hex4(body, i + 1);
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdbff && body[i + 1] === "\\" && body[i + 2] === "u") {
          const low = hex4(body, i + 3);
          if (low >= 0xdc00 && low <= 0xdfff) {
            cp = 0x10000 + ((cp & 0x3ff) << 10) + (low & 0x3ff);
            i += 6;
          } else cp = -1;
        }
        if (cp < 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
          // QEMU quotes the escape as far as it read it: six characters, even past the closing quote.
          return fail(`${tail.slice(begin, i + 1)} is not a valid Unicode character`);
        }
        out += String.fromCodePoint(cp);
        break;
      }
      default:
        return fail("invalid escape sequence in string");
    }
  }
  if (!flush()) return fail("invalid UTF-8 sequence in string");
  return out;
}

function hex4(text: string, at: number): number {
  const digits = text.slice(at, at + 4);
  return /^[0-9a-fA-F]{4}$/.test(digits) ? Number.parseInt(digits, 16) : -1;
}
