/**
 * QEMU's two option-argument syntaxes, as `qemu-system-x86_64` 7.2 reads them:
 *
 * - `key=value,key=value` (QemuOpts and keyval): a comma inside a value is written `,,`; the first element may
 *   omit its key when the option has an *implied* key (`-machine q35` is `type=q35`, `-chardev socket,…` is
 *   `backend=socket`); a later bare `flag` is QemuOpts' deprecated short form of `flag=on` (`noflag`: off).
 * - JSON, when the argument starts with `{` (`-device`, `-object`, `-blockdev`, `-netdev`, `-audiodev`), parsed by
 *   QEMU's own JSON parser port so the error texts are QEMU's.
 */
import { type ParsedInput, QMPInputParser } from "../monitor/json-stream.ts";

/** One `key=value` element, in command-line order. */
export interface OptEntry {
  readonly key: string;
  readonly value: string;
}

/** A parsed `key=value,…` argument. */
export interface ParsedOpts {
  readonly entries: readonly OptEntry[];
  /** `help` or `?` appeared as an element. */
  readonly help: boolean;
  /** QEMU's warnings for deprecated short-form booleans, one per element, without the program prefix. */
  readonly warnings: readonly string[];
}

/** An option argument that QEMU rejects, with QEMU's message (without the `prog: -opt arg: ` prefix). */
export class OptsSyntaxError extends Error {
  override readonly name = "OptsSyntaxError";
}

/**
 * Parses `text` as QemuOpts does. `impliedKey` names the key of a first element written without `=`.
 * @example parseOpts("q35,usb=off", "type").entries // [{key:"type",value:"q35"},{key:"usb",value:"off"}]
 */
export function parseOpts(text: string, impliedKey?: string): ParsedOpts {
  const entries: OptEntry[] = [];
  const warnings: string[] = [];
  let help = false;
  let pos = 0;
  let first = true;
  while (pos < text.length || (first && text.length === 0 && impliedKey === undefined)) {
    if (text.length === 0) break;
    const element = readElement(text, pos);
    pos = element.next;
    if (element.value === undefined) {
      const bare = element.key;
      if (bare === "help" || bare === "?") {
        help = true;
      } else if (first && impliedKey !== undefined) {
        entries.push({ key: impliedKey, value: bare });
      } else if (bare.startsWith("no") && bare.length > 2) {
        warnings.push(
          `warning: short-form boolean option '${bare}' deprecated\nPlease use ${bare.slice(2)}=off instead`,
        );
        entries.push({ key: bare.slice(2), value: "off" });
      } else {
        warnings.push(
          `warning: short-form boolean option '${bare}' deprecated\nPlease use ${bare}=on instead`,
        );
        entries.push({ key: bare, value: "on" });
      }
    } else {
      entries.push({ key: element.key, value: element.value });
    }
    first = false;
  }
  return { entries, help, warnings };
}

/** Reads one element from `pos`: a key (up to `=` or `,`), then, after `=`, a value in which `,,` is a comma. */
function readElement(text: string, pos: number): { key: string; value: string | undefined; next: number } {
  let key = "";
  let i = pos;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === "=") break;
    if (c === ",") {
      if (text[i + 1] === ",") {
        key += ",";
        i++;
        continue;
      }
      break;
    }
    key += c;
  }
  if (text[i] !== "=") return { key, value: undefined, next: i + 1 };
  let value = "";
  for (i++; i < text.length; i++) {
    const c = text[i];
    if (c === ",") {
      if (text[i + 1] === ",") {
        value += ",";
        i++;
        continue;
      }
      break;
    }
    value += c;
  }
  return { key, value, next: i + 1 };
}

/** The last value given for `key` (QemuOpts keeps every entry; a later one wins for a single-valued key). */
export function optValue(opts: ParsedOpts, key: string): string | undefined {
  let found: string | undefined;
  for (const entry of opts.entries) if (entry.key === key) found = entry.value;
  return found;
}

/** The entries as a plain object, later keys winning. */
export function optsObject(opts: ParsedOpts): Record<string, string> {
  const object: Record<string, string> = {};
  for (const entry of opts.entries) object[entry.key] = entry.value;
  return object;
}

/**
 * An option argument in either syntax: JSON when it starts with `{`, else keyval with dotted keys turned into
 * nested objects (`file.filename=x` → `{file: {filename: "x"}}`), as `-blockdev`/`-object` read it. Values of the
 * keyval form stay strings: QEMU's keyval visitor converts them per the schema, which the consumer knows.
 */
export function parseJsonOrKeyval(
  text: string,
  impliedKey?: string,
): { object: Record<string, unknown>; json: boolean } {
  if (text.startsWith("{")) {
    const value = parseCliJson(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new OptsSyntaxError("Invalid parameter type, expected 'object'");
    }
    return { object: value as Record<string, unknown>, json: true };
  }
  const object: Record<string, unknown> = {};
  let pos = 0;
  let first = true;
  while (pos < text.length) {
    const element = readElement(text, pos);
    pos = element.next;
    let key = element.key;
    let value = element.value;
    if (value === undefined) {
      if (first && impliedKey !== undefined) {
        value = key;
        key = impliedKey;
      } else {
        throw new OptsSyntaxError(`Expected '=' after parameter '${key}'`);
      }
    }
    first = false;
    setDotted(object, key, value);
  }
  return { object, json: false };
}

function setDotted(target: Record<string, unknown>, dottedKey: string, value: string): void {
  const parts = dottedKey.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next === "object" && next !== null) {
      node = next as Record<string, unknown>;
    } else {
      const created: Record<string, unknown> = {};
      node[part] = created;
      node = created;
    }
  }
  node[parts[parts.length - 1] ?? dottedKey] = value;
}

/**
 * One JSON value from a command-line argument, with QEMU's lexer and its texts: the parse error of the first
 * message, "premature EOI" when the input ends inside a value, "Expecting at most one JSON value" after a second.
 */
export function parseCliJson(text: string): unknown {
  const inputs: ParsedInput[] = [];
  // The newline stands for the end of the argument: it delimits a trailing number or keyword.
  new QMPInputParser((input) => inputs.push(input)).feed(Buffer.from(`${text}\n`));
  const [first] = inputs;
  if (first === undefined) throw new OptsSyntaxError("JSON parse error, premature EOI");
  if (!first.ok) throw new OptsSyntaxError(first.error);
  if (inputs.length > 1) throw new OptsSyntaxError("Expecting at most one JSON value");
  return first.value;
}
