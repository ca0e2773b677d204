/**
 * Splits one shell line into words, the way qmp-shell's shlex splitting does, plus two additions:
 *
 * - A value that starts with `{` or `[` right after `key=` is read up to its matching bracket,
 *   keeping spaces and quotes, so `opts={"a": 1, "b": [2, 3]}` is one word whose value is JSON.
 *   (qmp-shell needs `opts='{"a": 1}'`; that form still works.)
 * - An unquoted `,` that ends a word (followed by a space or the end of the line) is its own
 *   token; the parser uses it to separate actions in `transaction( a x=1, b y=2 )`.
 *
 * Quoting: `'…'` is literal; in `"…"` a backslash escapes `"` and `\`; outside quotes a backslash
 * escapes the next character.
 */

export interface WordToken {
  readonly kind: "word";
  /** The word after quote removal. */
  readonly text: string;
  /** 1-based column of the word's first character. */
  readonly column: number;
  /** 0-based index just past the word in the line. */
  readonly end: number;
  /** Index in `text` of the first unquoted `=`, or -1. */
  readonly eq: number;
  /** 1-based column of the first character after that `=` (0 when there is none). */
  readonly valueColumn: number;
  /** Whether any part of the value (after `=`) was quoted. */
  readonly valueQuoted: boolean;
  /** Only in lenient mode: the word ends inside an open quote or bracket. */
  readonly open: boolean;
}

export interface CommaToken {
  readonly kind: "comma";
  readonly column: number;
}

export type Token = WordToken | CommaToken;

/** A syntax error: `column` is 1-based. */
export interface SyntaxProblem {
  readonly message: string;
  readonly column: number;
}

export type TokenizeResult =
  | { readonly ok: true; readonly tokens: Token[] }
  | { readonly ok: false; readonly error: SyntaxProblem };

class Problem extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}

const CLOSER: Record<string, string> = { "{": "}", "[": "]" };
const isSpace = (ch: string | undefined): boolean => ch === " " || ch === "\t";

/**
 * Splits `line` into tokens. With `lenient`, an unterminated quote or bracket ends the last word
 * (marked `open`) instead of failing; completion uses that on half-typed lines.
 */
export function tokenize(line: string, lenient = false): TokenizeResult {
  try {
    return { ok: true, tokens: scan(line, lenient) };
  } catch (error) {
    if (error instanceof Problem)
      return { ok: false, error: { message: error.message, column: error.column } };
    throw error;
  }
}

function scan(line: string, lenient: boolean): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    if (isSpace(line[i])) {
      i++;
      continue;
    }
    const start = i;
    let text = "";
    let eq = -1;
    let valueColumn = 0;
    let valueQuoted = false;
    let open = false;
    let comma = false;
    while (i < line.length && !isSpace(line[i])) {
      const ch = line[i] as string;
      if (ch === "'" || ch === '"') {
        const closed = ch === "'" ? line.indexOf("'", i + 1) : findDoubleQuoteEnd(line, i + 1);
        if (closed < 0) {
          if (!lenient) throw new Problem(`unterminated ${ch} quote starting at column ${i + 1}`, i + 1);
          text += unescapeQuoted(ch, line.slice(i + 1));
          open = true;
          i = line.length;
          break;
        }
        text += unescapeQuoted(ch, line.slice(i + 1, closed));
        if (eq >= 0) valueQuoted = true;
        i = closed + 1;
      } else if (ch === "\\") {
        if (i + 1 >= line.length) {
          if (!lenient) throw new Problem(`nothing to escape after '\\' at column ${i + 1}`, i + 1);
          i++;
          break;
        }
        text += line[i + 1];
        i += 2;
      } else if (ch === "," && (i + 1 >= line.length || isSpace(line[i + 1]))) {
        comma = true;
        i++;
        break;
      } else if (ch === "=" && eq < 0) {
        eq = text.length;
        valueColumn = i + 2;
        text += ch;
        i++;
        const next = line[i];
        if (next === "{" || next === "[") {
          const region = readBracketed(line, i, lenient);
          text += line.slice(i, region.end);
          open = region.open;
          i = region.end;
        }
      } else {
        text += ch;
        i++;
      }
    }
    if (i > start + (comma ? 1 : 0)) {
      const end = comma ? i - 1 : i;
      tokens.push({ kind: "word", text, column: start + 1, end, eq, valueColumn, valueQuoted, open });
    }
    if (comma) tokens.push({ kind: "comma", column: i });
  }
  return tokens;
}

/** Index of the `"` closing a double-quoted run that starts at `from`, or -1. */
function findDoubleQuoteEnd(line: string, from: number): number {
  for (let j = from; j < line.length; j++) {
    if (line[j] === "\\") j++;
    else if (line[j] === '"') return j;
  }
  return -1;
}

function unescapeQuoted(quote: string, body: string): string {
  return quote === "'" ? body : body.replace(/\\(["\\])/g, "$1");
}

/**
 * Reads a JSON-looking value from the bracket at `from` to its partner. Strings inside are
 * skipped whole so brackets in them don't count. Returns the index just past the region.
 */
function readBracketed(line: string, from: number, lenient: boolean): { end: number; open: boolean } {
  const stack: { ch: string; at: number }[] = [];
  let j = from;
  while (j < line.length) {
    const ch = line[j] as string;
    if (ch === "{" || ch === "[") {
      stack.push({ ch, at: j });
    } else if (ch === "}" || ch === "]") {
      const top = stack.pop();
      if (top === undefined) break; // unreachable: the region ends when the stack empties
      const want = CLOSER[top.ch] as string;
      if (ch !== want) {
        if (lenient) return { end: line.length, open: true };
        throw new Problem(
          `expected '${want}' to close '${top.ch}' from column ${top.at + 1}, found '${ch}' at column ${j + 1}`,
          j + 1,
        );
      }
      if (stack.length === 0) return { end: j + 1, open: false };
    } else if (ch === '"' || ch === "'") {
      const closed = ch === "'" ? line.indexOf("'", j + 1) : findDoubleQuoteEnd(line, j + 1);
      if (closed < 0) {
        if (lenient) return { end: line.length, open: true };
        throw new Problem(`unterminated ${ch} quote starting at column ${j + 1}`, j + 1);
      }
      j = closed;
    }
    j++;
  }
  const top = stack[stack.length - 1] as { ch: string; at: number };
  if (lenient) return { end: line.length, open: true };
  throw new Problem(
    `unclosed '${top.ch}' from column ${top.at + 1}: expected '${CLOSER[top.ch]}' before the end of the line (quote the value to send it as text)`,
    top.at + 1,
  );
}
