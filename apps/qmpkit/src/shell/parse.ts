/**
 * The qmp-shell line language, as a pure function of (line, state).
 *
 * ```
 * query-status                                   command, no arguments
 * blockdev-add driver=null-co node-name=n0       key=value arguments
 * object-add qom-type=memory-backend-ram id=m size=1073741824
 * x-cmd a.b.c=1 a.b.d=two                        dotted keys: {"a": {"b": {"c": 1, "d": "two"}}}
 * migrate-set-parameters opts={"x": [1, 2]}      bracketed values are JSON, spaces allowed
 * {"execute": "query-status", "id": 7}          a line starting with '{' is sent as-is
 * transaction(                                   opens a block; each following line adds actions
 *   block-dirty-bitmap-add node=d0 name=b0       …as {"type": …, "data": {…}}
 * )                                              closes it and yields the transaction command
 * transaction( abort, abort ) completion-mode=grouped     one-line form; keys after ')' are properties
 * # comment                                      ignored (only at the start of a line)
 * ```
 *
 * Values: see {@link parseValue}. Keys may not repeat, and a key may not be both a value and a
 * parent (`a=1 a.b=2` is an error). Errors carry a 1-based column.
 */

import { readJson, setOwn } from "./json-value.ts";
import { type SyntaxProblem, type Token, tokenize, type WordToken } from "./tokenize.ts";

export type { SyntaxProblem } from "./tokenize.ts";

/** A QMP command message as the shell builds it. `arguments` is always present. */
// Type aliases, not interfaces, so a message is assignable to Record<string, unknown>.
export type CommandMessage = {
  execute: string;
  arguments: Record<string, unknown>;
};

/** One action of a `transaction` command. */
export type TransactionAction = {
  type: string;
  data: Record<string, unknown>;
};

/** What the parser carries from one line to the next: an open `transaction(` block, if any. */
export interface ShellState {
  readonly transaction: { readonly actions: readonly TransactionAction[] } | null;
}

/** The state before any line: no open transaction. */
export const initialShellState: ShellState = Object.freeze({ transaction: null });

/**
 * The outcome of one line. Every variant carries the state for the next line.
 * - `empty`: blank line or `#` comment, nothing to do.
 * - `command`: send `message` (a closed transaction arrives as this too).
 * - `raw`: a JSON object typed by the user; send it unchanged.
 * - `transaction`: a block was opened or actions were added; `actions` counts them so far.
 * - `error`: nothing to send; an open transaction is discarded, since sending it without the
 *   bad line would commit something the user did not ask for.
 */
export type ShellLineResult =
  | { readonly kind: "empty"; readonly state: ShellState }
  | { readonly kind: "command"; readonly message: CommandMessage; readonly state: ShellState }
  | { readonly kind: "raw"; readonly message: Record<string, unknown>; readonly state: ShellState }
  | { readonly kind: "transaction"; readonly actions: number; readonly state: ShellState }
  | { readonly kind: "error"; readonly error: SyntaxProblem; readonly state: ShellState };

const OPEN = "transaction(";
const CLOSE = ")";

class LineError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}

/**
 * Parses one line of shell input.
 * @example
 * parseShellLine("stop", initialShellState)
 * // { kind: "command", message: { execute: "stop", arguments: {} }, state }
 */
export function parseShellLine(line: string, state: ShellState): ShellLineResult {
  const text = line.replace(/\r?\n?$/, "");
  try {
    return parseLine(text, state);
  } catch (error) {
    if (!(error instanceof LineError)) throw error;
    let message = error.message;
    const open = state.transaction;
    if (open) {
      const n = open.actions.length;
      message += ` (the open transaction with ${n} action${n === 1 ? "" : "s"} was discarded)`;
    }
    return { kind: "error", error: { message, column: error.column }, state: initialShellState };
  }
}

/**
 * Wraps a line for HMP mode: the text goes to `human-monitor-command` untouched.
 * @example toHmp("info block") // { execute: "human-monitor-command", arguments: { "command-line": "info block" } }
 */
export function toHmp(line: string, cpuIndex?: number): CommandMessage {
  const commandLine = line.replace(/\r?\n?$/, "");
  return {
    execute: "human-monitor-command",
    arguments:
      cpuIndex === undefined
        ? { "command-line": commandLine }
        : { "command-line": commandLine, "cpu-index": cpuIndex },
  };
}

/**
 * The CPU index of an HMP `cpu N` line, `NaN` for `cpu` with anything but one index, `undefined` for other lines.
 * QEMU forgets `cpu N` after each `human-monitor-command` (each runs in a monitor of its own), so the shell keeps
 * the index and sends it as `cpu-index` with every later command, as qmp-shell does.
 */
export function hmpCpuIndex(line: string): number | undefined {
  const words = line.trim().split(/\s+/);
  if (words[0] !== "cpu") return undefined;
  return words.length === 2 && /^\d+$/.test(words[1] as string) ? Number(words[1]) : Number.NaN;
}

/**
 * Builds an arguments object from words already split by the OS shell (`qmpkit exec … k=v`).
 * No quote processing happens here; `key="text"` reaches us as a JSON string literal and parses
 * as one. An error's `column` is the 1-based index of the offending word.
 */
export function parseArgumentWords(
  words: readonly string[],
): { ok: true; arguments: Record<string, unknown> } | { ok: false; error: SyntaxProblem } {
  const args = new ArgumentBuilder();
  // An index loop, not `words.entries()`: exec runs this once, and an array iterator's first use costs the
  // compiled CLI a builtin's set-up.
  for (let index = 0; index < words.length; index++) {
    const word = words[index] as string;
    const eq = word.indexOf("=");
    try {
      if (eq < 0) throw new LineError(`expected key=value, got '${word}'`, index + 1);
      args.set(word.slice(0, eq), parseValue(word.slice(eq + 1), false), index + 1);
    } catch (error) {
      if (!(error instanceof LineError)) throw error;
      return { ok: false, error: { message: `argument ${index + 1}: ${error.message}`, column: index + 1 } };
    }
  }
  return { ok: true, arguments: args.result };
}

/**
 * Interprets the text after `key=`:
 * - quoted scalars stay strings: `x="123"` sends `"123"`, `x='true'` sends `"true"`;
 * - otherwise valid JSON is used as JSON: `1`, `-2.5e3`, `true`, `null`, `[1, "a"]`, `{"k": 1}`
 *   (case-insensitive `True`/`False`/`NULL` too, as qmp-shell accepted Python spellings; and
 *   `'single'` strings inside brackets); integers beyond 2^53 stay exact;
 * - anything else is a string: `x=abc`, `x=1.2.3`, `x=[::1]`; `x=` is the empty string.
 * Quoted text starting with `{`/`[` is still tried as JSON, so qmp-shell's `x='{"a": 1}'` works.
 */
export function parseValue(text: string, quoted: boolean): unknown {
  const head = text[0];
  if (quoted && head !== "{" && head !== "[") return text;
  if (text === "") return "";
  const lower = text.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  if (lower === "null") return null;
  const parsed = readJson(text, { singleQuotes: true });
  return parsed.ok ? parsed.value : text;
}

function parseLine(text: string, state: ShellState): ShellLineResult {
  const trimmed = text.trimStart();
  if (trimmed === "" || trimmed.startsWith("#")) return { kind: "empty", state };
  if (trimmed.startsWith("{")) return parseRawLine(text, text.length - trimmed.length, state);

  const tokenized = tokenize(text);
  if (!tokenized.ok) throw new LineError(tokenized.error.message, tokenized.error.column);
  const cursor = new Cursor(tokenized.tokens, text.length + 1);
  const first = cursor.peekWord();

  if (state.transaction) {
    if (first?.text === OPEN)
      throw new LineError(`'${OPEN}' inside an open transaction; close it with ')' first`, first.column);
    return transactionLine(cursor, [...state.transaction.actions]);
  }
  if (first?.text === OPEN) {
    cursor.next();
    return transactionLine(cursor, []);
  }
  if (first?.text === CLOSE) throw new LineError(`')' without an open '${OPEN}'`, first.column);

  const name = cursor.commandName("a command name");
  const args = cursor.keyValues("key=value");
  cursor.expectEnd("key=value");
  return { kind: "command", message: { execute: name, arguments: args }, state };
}

function parseRawLine(text: string, indent: number, state: ShellState): ShellLineResult {
  const parsed = readJson(text);
  if (!parsed.ok) throw new LineError(`invalid JSON: ${parsed.message}`, parsed.offset + 1);
  const message = parsed.value as Record<string, unknown>;
  if (!state.transaction) return { kind: "raw", message, state };
  // Inside a block a JSON line is one action, written out in full.
  if (typeof message.type !== "string") {
    throw new LineError(
      `a JSON action needs a string "type" member, like {"type": "abort", "data": {}}`,
      indent + 1,
    );
  }
  const data = message.data ?? {};
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new LineError(`the JSON action's "data" must be an object`, indent + 1);
  }
  const actions = [
    ...state.transaction.actions,
    { type: message.type, data: data as Record<string, unknown> },
  ];
  return { kind: "transaction", actions: actions.length, state: { transaction: { actions } } };
}

/**
 * The rest of a line inside a transaction: `action k=v, action k=v` optionally followed by
 * `) key=value…` which closes the block.
 */
function transactionLine(cursor: Cursor, actions: TransactionAction[]): ShellLineResult {
  for (;;) {
    const word = cursor.peekWord();
    if (cursor.atEnd()) break;
    if (word?.text === CLOSE) {
      cursor.next();
      const properties = cursor.keyValues("key=value (transaction properties)");
      cursor.expectEnd("key=value (transaction properties)");
      const args: Record<string, unknown> = { actions };
      if (Object.keys(properties).length > 0) args.properties = properties;
      return {
        kind: "command",
        message: { execute: "transaction", arguments: args },
        state: initialShellState,
      };
    }
    const type = cursor.commandName("an action name");
    actions.push({ type, data: cursor.keyValues("key=value, ',' or ')'") });
    cursor.skipComma();
  }
  return { kind: "transaction", actions: actions.length, state: { transaction: { actions } } };
}

/** Walks the tokens of one line. `endColumn` is the column reported for "end of line". */
class Cursor {
  #i = 0;

  constructor(
    readonly tokens: readonly Token[],
    readonly endColumn: number,
  ) {}

  atEnd(): boolean {
    return this.#i >= this.tokens.length;
  }

  peekWord(): WordToken | undefined {
    const token = this.tokens[this.#i];
    return token?.kind === "word" ? token : undefined;
  }

  next(): void {
    this.#i++;
  }

  skipComma(): boolean {
    if (this.tokens[this.#i]?.kind !== "comma") return false;
    this.#i++;
    return true;
  }

  /** Describes the current token for "found …" messages. */
  found(): { text: string; column: number } {
    const token = this.tokens[this.#i];
    if (!token) return { text: "end of line", column: this.endColumn };
    if (token.kind === "comma") return { text: "','", column: token.column };
    return { text: `'${token.text}'`, column: token.column };
  }

  commandName(what: string): string {
    const word = this.peekWord();
    if (!word || word.eq >= 0 || word.text === "" || word.text === CLOSE || word.text === OPEN) {
      const { text, column } = this.found();
      throw new LineError(`expected ${what}, found ${text}`, column);
    }
    this.#i++;
    return word.text;
  }

  /** Consumes consecutive key=value words; `what` names what may come here, for messages. */
  keyValues(what: string): Record<string, unknown> {
    const args = new ArgumentBuilder();
    for (let word = this.peekWord(); word && word.text !== CLOSE; word = this.peekWord()) {
      if (word.eq < 0) {
        throw new LineError(`expected ${what}, found '${word.text}'`, word.column);
      }
      const value = parseValue(word.text.slice(word.eq + 1), word.valueQuoted);
      args.set(word.text.slice(0, word.eq), value, word.column);
      this.#i++;
    }
    return args.result;
  }

  expectEnd(what: string): void {
    if (this.atEnd()) return;
    const { text, column } = this.found();
    if (this.tokens[this.#i]?.kind === "comma") {
      throw new LineError(
        `unexpected ',': commas separate actions only inside '${OPEN} … )'; quote a value that ends in a comma`,
        column,
      );
    }
    throw new LineError(`expected ${what}, found ${text}`, column);
  }
}

/** Assembles nested arguments from dotted keys, refusing duplicates and leaf/parent clashes. */
class ArgumentBuilder {
  readonly result: Record<string, unknown> = {};
  // Objects made by dotted keys, with the first key that made each, for messages.
  readonly #made = new Map<object, string>();

  set(key: string, value: unknown, column: number): void {
    if (key === "") throw new LineError(`missing key before '='`, column);
    const path = key.split(".");
    if (path.some((part) => part === "")) throw new LineError(`empty part in key '${key}'`, column);
    let parent = this.result;
    for (const [depth, part] of path.entries()) {
      const here = path.slice(0, depth + 1).join(".");
      const existing = Object.hasOwn(parent, part) ? parent[part] : undefined;
      const madeBy =
        existing !== undefined && typeof existing === "object"
          ? this.#made.get(existing as object)
          : undefined;
      if (depth === path.length - 1) {
        if (madeBy !== undefined) {
          throw new LineError(
            `key '${key}' conflicts with '${madeBy}': '${here}' cannot be both a value and an object`,
            column,
          );
        }
        if (Object.hasOwn(parent, part)) throw new LineError(`duplicate key '${key}'`, column);
        setOwn(parent, part, value);
        return;
      }
      if (Object.hasOwn(parent, part) && madeBy === undefined) {
        throw new LineError(
          `key '${key}' conflicts with '${here}': '${here}' cannot be both a value and an object`,
          column,
        );
      }
      if (madeBy === undefined) {
        const child: Record<string, unknown> = {};
        this.#made.set(child, key);
        setOwn(parent, part, child);
        parent = child;
      } else {
        parent = existing as Record<string, unknown>;
      }
    }
  }
}
