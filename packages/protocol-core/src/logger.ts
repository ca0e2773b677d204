/**
 * The logging surface qmpkit writes to. Silent unless enabled: set `QMPKIT_DEBUG` to a comma-separated list of
 * logger names or prefixes (`qmpkit.protocol`, `qmpkit.qmp.vm1`, `*`), or pass your own logger.
 */
export interface Logger {
  /** False when debug output is discarded: hot paths check it before formatting anything. */
  readonly enabled: boolean;
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

const noop = (): void => {};

/** A logger that discards everything. */
export const silentLogger: Logger = { enabled: false, debug: noop, info: noop, warn: noop, error: noop };

const MAX_ARGUMENT_CHARS = 200;

/** Messages as one line of JSON: the console's own rendering cuts nesting short (`[Object ...]`) over many lines. */
function oneLine(value: unknown): unknown {
  if (typeof value !== "object" || value === null || value instanceof Error) return value;
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  } catch {
    return value;
  }
}

function clip(value: unknown): unknown {
  const shown = oneLine(value);
  if (typeof shown === "string" && shown.length > MAX_ARGUMENT_CHARS) {
    return `${shown.slice(0, MAX_ARGUMENT_CHARS)}… (${shown.length} chars)`;
  }
  return shown;
}

function isEnabled(name: string, patterns: string | undefined): boolean {
  if (!patterns) return false;
  return patterns
    .split(",")
    .map((p) => p.trim())
    .some((p) => p === "*" || p === name || (p.length > 0 && name.startsWith(`${p}.`)));
}

/**
 * Returns the logger for `name`: writes `[name] level message` to stderr when `QMPKIT_DEBUG` selects it,
 * otherwise {@link silentLogger}.
 */
export function createLogger(name: string, env: Record<string, string | undefined> = process.env): Logger {
  if (!isEnabled(name, env.QMPKIT_DEBUG)) return silentLogger;
  const write =
    (level: string) =>
    (message: string, ...args: unknown[]): void => {
      console.error(`[${name}] ${level} ${message}`, ...args.map(clip));
    };
  return {
    enabled: true,
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
  };
}
