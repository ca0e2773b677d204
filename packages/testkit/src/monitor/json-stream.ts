/**
 * QEMU's QMP input parser, reproduced: a byte-level JSON lexer with QEMU's extensions (single-quoted strings,
 * `\'` escapes), its streamer (a message ends when braces and brackets balance, or go negative), its recovery
 * after a lexical error (skip to the next structural or control character), its limits (nesting 1024, 2 Mi
 * tokens, 64 MiB per token and per message) and its error texts (`JSON parse error, expecting value`,
 * `stray '…'`, `duplicate key`, …).
 *
 * Like QEMU it reads a byte stream, not lines: bytes go in as they arrive, in any split, and a message is
 * answered the moment its closing brace arrives, with no newline after it (as QEMU's own `qemu.qmp` and npm's
 * `qemu-qmp` send). Memory stays bounded as in QEMU: a token in progress is cut at the size limit, and the text
 * kept for `fake.received` is capped at the same size.
 */

import type { TokenParser } from "./json-parser.ts";
import { Tok, type Token } from "./json-token.ts";

/**
 * QEMU's own parser, for the messages JSON.parse cannot read as QEMU does (see QMPInputParser's #parse). Required
 * on first use: bun's bundler gives a required module a chunk of its own, loaded then, so a process whose messages
 * are all plain JSON never evaluates it.
 */
function tokenParser(tokens: Token[]): TokenParser {
  const { TokenParser } = require("./json-parser.ts") as typeof import("./json-parser.ts");
  return new TokenParser(tokens);
}

/** The outcome of one QMP input message: a parsed value, or QEMU's parse error. `raw` is the text received. */
export type ParsedInput =
  | { ok: true; value: unknown; raw: string }
  | { ok: false; error: string; raw: string };

/** Lexer states (QEMU's IN_* states, minus interpolation). */
const St = {
  Start: 0,
  Recovery: 1,
  DqString: 2,
  DqEscape: 3,
  SqString: 4,
  SqEscape: 5,
  Zero: 6,
  NonZero: 7,
  Negative: 8,
  Mantissa: 9,
  MantissaDigits: 10,
  ExpE: 11,
  ExpSign: 12,
  ExpDigits: 13,
  Keyword: 14,
} as const;
type St = (typeof St)[keyof typeof St];

const MAX_NESTING = 1024;
const MAX_TOKEN_COUNT = 2 * 1024 * 1024;
/** QEMU's MAX_TOKEN_SIZE: the most bytes of one token, and of all tokens of one message. */
export const QEMU_MAX_TOKEN_SIZE = 64 * 1024 * 1024;

const LF = 0x0a;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Structural byte → token type (-1: not structural): a table rather than a function, one fewer on the path. */
const STRUCTURAL = new Int8Array(256).fill(-1);
STRUCTURAL[0x7b] = Tok.LCurly;
STRUCTURAL[0x7d] = Tok.RCurly;
STRUCTURAL[0x5b] = Tok.LSquare;
STRUCTURAL[0x5d] = Tok.RSquare;
STRUCTURAL[0x3a] = Tok.Colon;
STRUCTURAL[0x2c] = Tok.Comma;

/** A backslash or a byte beyond ASCII in a string token (Latin-1 view of its bytes). */
const NOT_PLAIN = /[\\\u0080-\u00ff]/;

/** How many object members `value` holds, at every depth. */
function countMembers(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) count += countMembers(value[i]);
    return count;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (let i = 0; i < keys.length; i++) count += 1 + countMembers(record[keys[i] as string]);
  return count;
}

/**
 * A streaming QMP input parser for one connection. Feed it bytes as they arrive with {@link feed}; it calls
 * `onInput` for every complete message or parse error, in order, as soon as the message's last byte is in.
 */
export class QMPInputParser {
  readonly #onInput: (input: ParsedInput) => void;
  readonly #maxBytes: number;
  #state: St = St.Start;
  #tokens: Token[] = [];
  /**
   * The message's tokens, each followed by a space, while every one of them means the same to JSON.parse as to
   * QEMU's parser (see {@link #parse}); undefined once one does not.
   */
  #plainText: string | undefined = "";
  /** Object members in the message (one colon each): JSON.parse keeps one of duplicate keys, QEMU refuses them. */
  #colons = 0;
  #braces = 0;
  #brackets = 0;
  #totalBytes = 0;
  /** The bytes of the token in progress that came in earlier chunks. */
  #tokenHead: Buffer[] = [];
  #tokenHeadBytes = 0;
  /** The text of the message in progress from earlier chunks (capped at the size limit). */
  #rawHead: Buffer[] = [];
  #rawHeadBytes = 0;

  /** `maxBytes`: QEMU's token and message size limit (smaller in tests). @default 64 MiB, as QEMU */
  constructor(onInput: (input: ParsedInput) => void, maxBytes = QEMU_MAX_TOKEN_SIZE) {
    this.#onInput = onInput;
    this.#maxBytes = maxBytes;
  }

  /** Forgets any message in progress (QEMU drops it when the client hangs up). */
  reset(): void {
    this.#state = St.Start;
    this.#rawHead = [];
    this.#rawHeadBytes = 0;
    this.#dropTokenHead();
    this.#reset();
  }

  /** Whether a message (or a token) is in progress: bytes that will be dropped if the input ends now. */
  get pending(): boolean {
    return this.#tokens.length > 0 || (this.#state !== St.Start && this.#state !== St.Recovery);
  }

  /** Feeds bytes, in any split. */
  feed(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const len = buf.length;
    // Where the token in progress starts in this chunk (its earlier bytes, if any, are in #tokenHead).
    let tokStart = 0;
    // Where the raw text of the message in progress starts in this chunk (-1: no message in progress yet).
    let segStart = this.pending || this.#rawHeadBytes > 0 ? 0 : -1;
    let i = 0;
    while (i < len) {
      const c = buf[i] as number;
      switch (this.#state) {
        case St.Start: {
          if (c === 0x20 || c === 0x09 || c === 0x0d || c === LF) break;
          if (segStart < 0) segStart = i;
          tokStart = i;
          const s = STRUCTURAL[c] as Tok | -1;
          if (s !== -1) {
            this.#token(s, String.fromCharCode(c), buf, segStart, i + 1);
            if (this.#tokens.length === 0) segStart = -1;
          } else if (c === 0x22) this.#state = St.DqString;
          else if (c === 0x27) this.#state = St.SqString;
          else if (c === 0x30) this.#state = St.Zero;
          else if (c >= 0x31 && c <= 0x39) this.#state = St.NonZero;
          else if (c === 0x2d) this.#state = St.Negative;
          else if (c >= 0x61 && c <= 0x7a) this.#state = St.Keyword;
          else {
            this.#lexError(buf, tokStart, i, c, segStart);
            segStart = -1;
          }
          break;
        }
        case St.Recovery:
          // Skip to a promising resynchronisation point: a structural character (brackets, braces, ':' and ','),
          // a control character other than tab, or a byte that can never be UTF-8; that byte is then read again in
          // the start state.
          if ((c < 0x20 && c !== 0x09) || c >= 0xfe || STRUCTURAL[c] !== -1) {
            this.#state = St.Start;
            continue;
          }
          break;
        case St.DqString:
        case St.SqString: {
          const quote = this.#state === St.DqString ? 0x22 : 0x27;
          if (c === quote) {
            this.#state = St.Start;
            this.#token(Tok.String, this.#tokenText(buf, tokStart, i + 1), buf, segStart, i + 1);
            if (this.#tokens.length === 0) segStart = -1;
          } else if (c === 0x5c) this.#state = this.#state === St.DqString ? St.DqEscape : St.SqEscape;
          else if (c < 0x20 || c >= 0xfe) {
            this.#lexError(buf, tokStart, i, c, segStart);
            segStart = -1;
          }
          break;
        }
        case St.DqEscape:
        case St.SqEscape:
          if (c < 0x20 || c >= 0xfe) {
            this.#lexError(buf, tokStart, i, c, segStart);
            segStart = -1;
          } else this.#state = this.#state === St.DqEscape ? St.DqString : St.SqString;
          break;
        default: {
          // Numbers and keywords: either extend the token, end it (the byte is then read again), or fail.
          const next = this.#advanceScalar(c);
          if (next === "extend") break;
          if (next === "error") {
            this.#lexError(buf, tokStart, i, c, segStart);
            segStart = -1;
            break;
          }
          this.#state = St.Start;
          this.#token(next, this.#tokenText(buf, tokStart, i), buf, segStart, i);
          if (this.#tokens.length === 0) segStart = -1;
          continue;
        }
      }
      i++;
      if (this.#state >= St.DqString && this.#tokenHeadBytes + (i - tokStart) > this.#maxBytes) {
        // QEMU's lexer hands a token that outgrew the limit to the streamer, which refuses it; lexing starts
        // afresh with the next byte.
        const raw = this.#takeRaw(buf, segStart, i);
        this.#state = St.Start;
        this.#dropTokenHead();
        this.#reset();
        segStart = -1;
        this.#onInput({ ok: false, error: "JSON token size limit exceeded", raw });
      }
    }
    if (this.#state >= St.DqString) {
      const head = buf.subarray(tokStart, len);
      this.#tokenHead.push(Buffer.from(head));
      this.#tokenHeadBytes += head.length;
    }
    if (segStart >= 0 && this.pending) this.#keepRaw(buf.subarray(segStart, len));
  }

  /** Number and keyword states: what byte `c` does to the token in progress. */
  #advanceScalar(c: number): "extend" | "error" | Tok {
    // QEMU 7.2's table ends a number or keyword at any byte (0x00–0xFF); the byte is then lexed on its own, so a
    // 0xFF after `tr` is a stray '\xFF', not a stray 'tr\xFF' (older QEMU's table stopped at 0x7F).
    const terminal = (type: Tok): Tok => type;
    switch (this.#state) {
      case St.Negative:
        if (c === 0x30) this.#state = St.Zero;
        else if (c >= 0x31 && c <= 0x39) this.#state = St.NonZero;
        else return "error";
        return "extend";
      case St.Zero:
        if (isDigit(c)) return "error";
        if (c === 0x2e) {
          this.#state = St.Mantissa;
          return "extend";
        }
        return terminal(Tok.Integer);
      case St.NonZero:
        if (isDigit(c)) return "extend";
        if (c === 0x2e) this.#state = St.Mantissa;
        else if (c === 0x65 || c === 0x45) this.#state = St.ExpE;
        else return terminal(Tok.Integer);
        return "extend";
      case St.Mantissa:
        if (!isDigit(c)) return "error";
        this.#state = St.MantissaDigits;
        return "extend";
      case St.MantissaDigits:
        if (isDigit(c)) return "extend";
        if (c === 0x65 || c === 0x45) {
          this.#state = St.ExpE;
          return "extend";
        }
        return terminal(Tok.Float);
      case St.ExpE:
        if (c === 0x2b || c === 0x2d) this.#state = St.ExpSign;
        else if (isDigit(c)) this.#state = St.ExpDigits;
        else return "error";
        return "extend";
      case St.ExpSign:
        if (!isDigit(c)) return "error";
        this.#state = St.ExpDigits;
        return "extend";
      case St.ExpDigits:
        return isDigit(c) ? "extend" : terminal(Tok.Float);
      case St.Keyword:
        return c >= 0x61 && c <= 0x7a ? "extend" : terminal(Tok.Keyword);
      default:
        return "error";
    }
  }

  #lexError(buf: Buffer, tokStart: number, at: number, c: number, segStart: number): void {
    const text = Buffer.concat([...this.#tokenHead, buf.subarray(tokStart, at), Buffer.of(c)]).toString(
      "utf8",
    );
    const raw = this.#takeRaw(buf, segStart < 0 ? tokStart : segStart, at + 1);
    this.#state = St.Recovery;
    this.#dropTokenHead();
    this.#reset();
    this.#onInput({ ok: false, error: `JSON parse error, stray '${text}'`, raw });
  }

  #token(type: Tok, text: string, buf: Buffer, segStart: number, end: number): void {
    if (type === Tok.LCurly) this.#braces++;
    else if (type === Tok.RCurly) this.#braces--;
    else if (type === Tok.LSquare) this.#brackets++;
    else if (type === Tok.RSquare) this.#brackets--;

    let limitError: string | undefined;
    if (this.#totalBytes + text.length + 1 > this.#maxBytes) limitError = "JSON token size limit exceeded";
    else if (this.#tokens.length + 1 > MAX_TOKEN_COUNT) limitError = "JSON token count limit exceeded";
    else if (this.#braces + this.#brackets > MAX_NESTING) limitError = "JSON nesting depth limit exceeded";
    if (limitError !== undefined) {
      const raw = this.#takeRaw(buf, segStart, end);
      this.#reset();
      this.#onInput({ ok: false, error: limitError, raw });
      return;
    }
    this.#totalBytes += text.length;
    this.#tokens.push({ type, text });
    if (this.#plainText !== undefined) {
      if (type === Tok.Colon) this.#colons++;
      // Quoted with `'`, escaped or not ASCII: QEMU's decoding. An integer -0: QEMU's integer 0.
      if (type === Tok.String ? text.charCodeAt(0) !== 0x22 || NOT_PLAIN.test(text) : text === "-0")
        this.#plainText = undefined;
      else this.#plainText += `${text} `;
    }
    if ((this.#braces > 0 || this.#brackets > 0) && this.#braces >= 0 && this.#brackets >= 0) return;

    const raw = this.#takeRaw(buf, segStart, end);
    const input = this.#parse(raw);
    this.#reset();
    this.#onInput(input);
  }

  /**
   * The message's value, or QEMU's parse error. Most messages are plain JSON, which JSON.parse reads as QEMU's
   * parser would (tokens joined by spaces, so that `1 2` cannot become `12`): it then only has to be checked for
   * duplicate keys. Anything else, and any message JSON.parse refuses, goes through QEMU's parser for its error
   * text. The recursive-descent parser is several functions a short session would otherwise run once each.
   */
  #parse(raw: string): ParsedInput {
    const text = this.#plainText;
    if (text !== undefined) {
      let value: unknown;
      let parsed = true;
      try {
        value = JSON.parse(text);
      } catch {
        parsed = false;
      }
      if (parsed && countMembers(value) === this.#colons) return { ok: true, value, raw };
    }
    const parser = tokenParser(this.#tokens);
    const value = parser.parse();
    return parser.error === undefined ? { ok: true, value, raw } : { ok: false, error: parser.error, raw };
  }

  /** The text of the token ending at `end`, with what came in earlier chunks. */
  #tokenText(buf: Buffer, tokStart: number, end: number): string {
    if (this.#tokenHeadBytes === 0) return buf.toString("latin1", tokStart, end);
    const text = Buffer.concat([...this.#tokenHead, buf.subarray(tokStart, end)]).toString("latin1");
    this.#dropTokenHead();
    return text;
  }

  #dropTokenHead(): void {
    this.#tokenHead = [];
    this.#tokenHeadBytes = 0;
  }

  /** Keeps raw text of the message in progress, up to the size limit (QEMU keeps none; it is for tests). */
  #keepRaw(bytes: Buffer): void {
    const room = this.#maxBytes - this.#rawHeadBytes;
    if (room <= 0 || bytes.length === 0) return;
    const kept = Buffer.from(bytes.subarray(0, room));
    this.#rawHead.push(kept);
    this.#rawHeadBytes += kept.length;
  }

  #takeRaw(buf: Buffer, start: number, end: number): string {
    const from = Math.max(0, start);
    if (this.#rawHeadBytes === 0) {
      // The whole message came in this chunk (the usual case): decode it in place, no copies to join.
      return buf.toString("utf8", from, Math.min(end, buf.length, from + this.#maxBytes));
    }
    this.#keepRaw(buf.subarray(from, Math.min(end, buf.length)));
    const raw = Buffer.concat(this.#rawHead).toString("utf8");
    this.#rawHead = [];
    this.#rawHeadBytes = 0;
    return raw;
  }

  #reset(): void {
    this.#tokens = [];
    this.#plainText = "";
    this.#colons = 0;
    this.#braces = 0;
    this.#brackets = 0;
    this.#totalBytes = 0;
  }
}
