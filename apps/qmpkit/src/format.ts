/**
 * Output formatting. Everything here is pure: callers decide the style once from the stream
 * and environment ({@link detectStyle}) and pass it down.
 */

/** How to write output: indented or one line, with or without ANSI colour. */
export interface OutputStyle {
  readonly pretty: boolean;
  readonly color: boolean;
}

/** The slice of a writable stream the CLI needs; `process.stdout` fits. */
export interface OutputStream {
  readonly isTTY?: boolean;
  /** Terminal width, when a terminal. */
  readonly columns?: number | undefined;
  /** Bytes pass through untouched: a guest program's output need not be UTF-8. */
  write(data: string | Uint8Array): unknown;
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Colour is for people: on only when the stream is a terminal and `NO_COLOR` is unset or empty
 * (https://no-color.org).
 */
export function colorEnabled(stream: Pick<OutputStream, "isTTY">, env: Env): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? "") === "";
}

/**
 * Pretty JSON on a terminal, compact otherwise (pipes get one value per line), unless a flag
 * forces either.
 */
export function detectStyle(stream: Pick<OutputStream, "isTTY">, env: Env, pretty?: boolean): OutputStyle {
  return { pretty: pretty ?? stream.isTTY === true, color: colorEnabled(stream, env) };
}

const SGR = {
  bold: "1",
  dim: "2",
  red: "31",
  green: "32",
  yellow: "33",
  blue: "34",
  magenta: "35",
  cyan: "36",
} as const;

export type Tint = keyof typeof SGR;

/** Wraps `text` in an ANSI colour when `color` is on. */
export function paint(text: string, tint: Tint, color: boolean): string {
  return color ? `\x1b[${SGR[tint]}m${text}\x1b[0m` : text;
}

// JSON.stringify throws on bigint; a client may hand us uint64 values that way.
function replacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint"
    ? (JSON as unknown as { rawJSON(t: string): unknown }).rawJSON(String(value))
    : value;
}

/**
 * Serialises a value. Without colour the output is exactly `JSON.stringify(value, null, 2)`
 * (pretty) or `JSON.stringify(value)`; with colour, the same text with keys, strings, numbers and
 * literals tinted.
 */
export function formatJson(value: unknown, style: OutputStyle): string {
  const plain = JSON.stringify(value, replacer, style.pretty ? 2 : undefined) ?? "null";
  if (!style.color) return plain;
  // Round-trip through the plain text so colouring sees exactly what JSON.stringify produced
  // (toJSON, skipped undefined members, raw big integers) without re-implementing those rules.
  return colorizeJsonText(plain);
}

const TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d[\d.eE+-]*)|(true|false|null)/g;

function colorizeJsonText(text: string): string {
  return text.replace(TOKEN, (match, str: string | undefined, colon: string | undefined, num, literal) => {
    if (str !== undefined) return colon ? `${paint(str, "cyan", true)}${colon}` : paint(str, "green", true);
    if (num !== undefined) return paint(match, "yellow", true);
    if (literal !== undefined) return paint(match, "magenta", true);
    return match;
  });
}

/** Formats a QMP error reply as `ErrorClass: desc`, the form qmpkit prints on stderr. */
export function formatQMPError(error: { errorClass: string; desc: string }, color: boolean): string {
  return `${paint(error.errorClass, "red", color)}: ${error.desc}`;
}

/** One line for a qmpkit error: `qmpkit: message`. */
export function formatCliError(message: string, color: boolean): string {
  return `${paint("qmpkit", "bold", color)}: ${message}`;
}

/** `1536` -> `1.5 KiB`: binary units, one decimal below 10, none above. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${value} B`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value).toString()} ${units[unit]}`;
}

/** Seconds as `45s`, `3m05s`, `2h03m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
