/**
 * QEMU's QMP input parser, reproduced: a byte-level JSON lexer with QEMU's extensions (single-quoted strings,
 * `\'` escapes), its streamer (a message ends when braces and brackets balance, or go negative), its recovery
 * after a lexical error (skip to the next structural or control character), its limits (nesting 1024, 2 Mi
 * tokens, 64 MiB) and its error texts (`JSON parse error, expecting value`, `stray '…'`, `duplicate key`, …).
 *
 * QEMU reads a byte stream, not lines. The fake frames input with protocol-core's `LineDecoder` (bounded memory)
 * and feeds each line here followed by the `\n` it ended with, so messages split over lines, several messages on
 * one line and unterminated strings behave as in QEMU. Two visible differences remain: a message is answered
 * when its line ends (QEMU can answer before the newline arrives), and a `\r` just before a newline is dropped by
 * the framing (it only shows inside the text of a `stray` error for a string broken by CRLF).
 */

import { Tok, type Token, TokenParser } from "./json-parser.ts";

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
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

const LF = 0x0a;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Structural byte → token type, for the start state. */
function structural(c: number): Tok | -1 {
  switch (c) {
    case 0x7b:
      return Tok.LCurly;
    case 0x7d:
      return Tok.RCurly;
    case 0x5b:
      return Tok.LSquare;
    case 0x5d:
      return Tok.RSquare;
    case 0x3a:
      return Tok.Colon;
    case 0x2c:
      return Tok.Comma;
    default:
      return -1;
  }
}

/**
 * A streaming QMP input parser for one connection. Feed it lines (without terminator) with {@link feedLine};
 * it calls `onInput` for every complete message or parse error, in order.
 */
export class QmpInputParser {
  readonly #onInput: (input: ParsedInput) => void;
  #state: St = St.Start;
  #tokens: Token[] = [];
  #braces = 0;
  #brackets = 0;
  #totalBytes = 0;
  /** Text of the message in progress from earlier lines. */
  #rawPrefix = "";

  constructor(onInput: (input: ParsedInput) => void) {
    this.#onInput = onInput;
  }

  /** Forgets any message in progress (after input was dropped). */
  reset(): void {
    this.#state = St.Start;
    this.#rawPrefix = "";
    this.#reset();
  }

  /** Feeds one line's bytes; the line's `\n` is implied. */
  feedLine(line: Uint8Array): void {
    const buf = Buffer.isBuffer(line) ? line : Buffer.from(line.buffer, line.byteOffset, line.byteLength);
    const len = buf.length;
    let tokStart = 0;
    // Where the raw text of the message in progress starts on this line (-1: no message in progress yet).
    let segStart = this.#tokens.length > 0 || this.#rawPrefix.length > 0 ? 0 : -1;
    let i = 0;
    while (i <= len) {
      const c = i === len ? LF : (buf[i] as number);
      switch (this.#state) {
        case St.Start: {
          if (c === 0x20 || c === 0x09 || c === 0x0d || c === LF) break;
          if (segStart < 0) segStart = i;
          tokStart = i;
          const s = structural(c);
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
          // Skip to a promising resynchronisation point: a structural bracket, a control character other than
          // tab, or a byte that can never be UTF-8; that byte is then read again in the start state.
          if ((c < 0x20 && c !== 0x09) || c >= 0xfe || c === 0x5b || c === 0x5d || c === 0x7b || c === 0x7d) {
            this.#state = St.Start;
            continue;
          }
          break;
        case St.DqString:
        case St.SqString: {
          const quote = this.#state === St.DqString ? 0x22 : 0x27;
          if (c === quote) {
            this.#state = St.Start;
            this.#token(Tok.String, buf.toString("latin1", tokStart, i + 1), buf, segStart, i + 1);
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
          this.#token(next, buf.toString("latin1", tokStart, i), buf, segStart, i);
          if (this.#tokens.length === 0) segStart = -1;
          continue;
        }
      }
      i++;
    }
    if (segStart >= 0 && (this.#tokens.length > 0 || this.#state !== St.Start)) {
      this.#rawPrefix += `${buf.toString("utf8", segStart, len)}\n`;
    }
  }

  /** Number and keyword states: what byte `c` does to the token in progress. */
  #advanceScalar(c: number): "extend" | "error" | Tok {
    const terminal = (type: Tok): Tok | "error" => (c < 0x80 ? type : "error");
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
    const text = Buffer.concat([buf.subarray(tokStart, at), Buffer.of(c)]).toString("utf8");
    const raw = this.#takeRaw(buf, segStart < 0 ? tokStart : segStart, Math.min(at + 1, buf.length));
    this.#state = St.Recovery;
    this.#reset();
    this.#onInput({ ok: false, error: `JSON parse error, stray '${text}'`, raw });
  }

  #token(type: Tok, text: string, buf: Buffer, segStart: number, end: number): void {
    if (type === Tok.LCurly) this.#braces++;
    else if (type === Tok.RCurly) this.#braces--;
    else if (type === Tok.LSquare) this.#brackets++;
    else if (type === Tok.RSquare) this.#brackets--;

    let limitError: string | undefined;
    if (this.#totalBytes + text.length + 1 > MAX_TOTAL_BYTES) limitError = "JSON token size limit exceeded";
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
    if ((this.#braces > 0 || this.#brackets > 0) && this.#braces >= 0 && this.#brackets >= 0) return;

    const tokens = this.#tokens;
    const raw = this.#takeRaw(buf, segStart, end);
    this.#reset();
    const parser = new TokenParser(tokens);
    const value = parser.parse();
    this.#onInput(
      parser.error === undefined ? { ok: true, value, raw } : { ok: false, error: parser.error, raw },
    );
  }

  #takeRaw(buf: Buffer, start: number, end: number): string {
    const raw = this.#rawPrefix + buf.toString("utf8", Math.max(0, start), end);
    this.#rawPrefix = "";
    return raw;
  }

  #reset(): void {
    this.#tokens = [];
    this.#braces = 0;
    this.#brackets = 0;
    this.#totalBytes = 0;
  }
}
