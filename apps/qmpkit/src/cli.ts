/**
 * The small framework every subcommand uses: a declarative spec (flags with descriptions,
 * usage, examples) from which both the parser's config (`util.parseArgs`' form) and the `--help` text are
 * derived, so the help can never list a flag the parser does not know, or miss one.
 */

import { CliUsageError } from "./errors.ts";
import type { Env, OutputStream } from "./format.ts";
import { type FlagOption, parseFlags } from "./parse-flags.ts";
import type { ConnectionOptions, Session, Target } from "./session.ts";

/** A flag: parseArgs' fields plus what `--help` shows. */
export interface FlagSpec {
  readonly type: "boolean" | "string";
  readonly short?: string;
  readonly multiple?: boolean;
  /** Placeholder shown in help for a string flag: `FILE`, `N`. */
  readonly value?: string;
  readonly description: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type ValueOf<S extends FlagSpec> = S["type"] extends "boolean"
  ? S["multiple"] extends true
    ? boolean[]
    : boolean
  : S["multiple"] extends true
    ? string[]
    : string;

/** The parsed values of a command's flags: each may be absent. */
export type FlagValues<F extends FlagSpecs> = { readonly [K in keyof F]?: ValueOf<F[K]> };

/** What a command is given besides its flags. */
export interface CliIO {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly env: Env;
  /** The terminal as a Node stream, for the shell's line editor (stdout itself may be a plain sink). */
  readonly terminal?: NodeJS.WritableStream;
  /** Replaces `openClient` (tests hand in a scripted session). */
  readonly openClient?: (target: Target, options: ConnectionOptions) => Promise<Session>;
  /**
   * The process exits as soon as the command returns (the binary, not a test calling `run`): a connection the
   * command is done with closes with the process, and need not be closed first.
   */
  readonly exitsAfterRun?: boolean;
}

export interface CommandInput<F extends FlagSpecs> {
  readonly values: FlagValues<F> & FlagValues<typeof COMMON_FLAGS>;
  readonly positionals: readonly string[];
  /** Words after a `--`, untouched (QEMU's own arguments for `qmpkit qemu`). */
  readonly rest: readonly string[];
}

export interface CommandSpec<F extends FlagSpecs = FlagSpecs> {
  readonly name: string;
  /** One line, shown in `qmpkit --help`. */
  readonly summary: string;
  /** What follows `qmpkit NAME` in the usage line. */
  readonly usage: string;
  /** A paragraph or two for `qmpkit NAME --help`. */
  readonly description: string;
  readonly flags: F;
  readonly examples: readonly string[];
  /** Runs the command; resolves to the exit status. Throws CliError/ExecuteError to fail. */
  run(input: CommandInput<F>, io: CliIO): Promise<number>;
}

/** Flags every command accepts. */
export const COMMON_FLAGS = {
  help: { type: "boolean", short: "h", description: "show this help and exit" },
  debug: { type: "boolean", description: "print stack traces and protocol details on errors" },
} as const satisfies FlagSpecs;

/** Flags of every command that talks to a QMP server. */
export const CONNECTION_FLAGS = {
  fake: { type: "boolean", description: "use an embedded fake QEMU instead of ADDRESS" },
  tls: { type: "boolean", description: "use TLS for a tcp: address" },
  "tls-ca": {
    type: "string",
    value: "FILE",
    description: "trust this CA certificate (PEM) for TLS; implies --tls",
  },
  "connect-timeout": {
    type: "string",
    value: "SECONDS",
    description: "give up connecting after SECONDS (default 10)",
  },
} as const satisfies FlagSpecs;

/** A command as {@link defineCommand} returns it: its spec, with this module's parser and help bound to it. */
export interface DefinedCommand<F extends FlagSpecs = FlagSpecs> extends CommandSpec<F> {
  /** {@link parseCommandArgs} for this command. */
  parseArgs(argv: readonly string[]): CommandInput<F>;
  /** {@link renderCommandHelp} for this command. */
  help(): string;
}

/**
 * Declares a command (the flag types are inferred from `spec`). The parser and the help travel with the spec, so
 * main.ts reaches them through the command's own import(): an import() of this module as well loaded one chunk
 * more on every run (a stub re-exporting it from the chunk the commands share).
 */
export function defineCommand<F extends FlagSpecs>(spec: CommandSpec<F>): DefinedCommand<F> {
  return Object.assign(spec, { parseArgs, help });
}

function parseArgs<F extends FlagSpecs>(this: CommandSpec<F>, argv: readonly string[]): CommandInput<F> {
  return parseCommandArgs(this, argv);
}

function help(this: CommandSpec): string {
  return renderCommandHelp(this);
}

/**
 * Parses a command's arguments. Words after the first `--` are returned in `rest` unparsed.
 * @throws {CliUsageError} for unknown flags, missing values and the like, naming the command.
 */
export function parseCommandArgs<F extends FlagSpecs>(
  spec: CommandSpec<F>,
  argv: readonly string[],
): CommandInput<F> {
  const split = argv.indexOf("--");
  const own = joinNegativeValues(spec, split < 0 ? argv : argv.slice(0, split));
  const rest = split < 0 ? [] : argv.slice(split + 1);
  const options: Record<string, FlagOption> = {};
  for (const [name, flag] of Object.entries<FlagSpec>({ ...COMMON_FLAGS, ...spec.flags })) {
    options[name] = {
      type: flag.type,
      ...(flag.short === undefined ? {} : { short: flag.short }),
      ...(flag.multiple === undefined ? {} : { multiple: flag.multiple }),
    };
  }
  try {
    const { values, positionals } = parseFlags(own, options);
    return { values: values as CommandInput<F>["values"], positionals, rest };
  } catch (error) {
    // `qmpkit exec S -H info block -v`, `qmpkit qemu -m 1G`: words meant for someone else, with no `--`.
    const unknownShort =
      (error as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" &&
      own.some((a) => /^-[^-]/.test(a));
    const forgotten =
      PASSES_ON.has(spec.name) && unknownShort ? "; words meant for QEMU or the command go after '--'" : "";
    throw new CliUsageError(`${parseArgsMessage(error, own)} (see 'qmpkit ${spec.name} --help'${forgotten})`);
  }
}

/** Commands that hand the words after `--` on (to QEMU, to the monitor, to a guest program). */
const PASSES_ON: ReadonlySet<string> = new Set(["exec", "qemu", "ga"]);

/**
 * `--timeout -1` as `--timeout=-1`: parseArgs takes a word starting with `-` for a flag and reports a missing
 * value, where the user gave a (wrong) number that deserves its own message.
 */
function joinNegativeValues(spec: CommandSpec<FlagSpecs>, args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i] as string;
    const next = args[i + 1];
    const name = word.startsWith("--") ? word.slice(2) : undefined;
    const flag = name === undefined ? undefined : (spec.flags[name] ?? undefined);
    if (flag?.type === "string" && next !== undefined && /^-\d|^-\.\d/.test(next)) {
      out.push(`${word}=${next}`);
      i++;
    } else {
      out.push(word);
    }
  }
  return out;
}

/** Rewrites util.parseArgs' messages (parseFlags' are the same), which are long and mention JavaScript. */
export function parseArgsMessage(error: unknown, args: readonly string[] = []): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      if (quoted.startsWith("-")) return `unknown option '${quoted}'`;
      // A letter from a group of short flags: name the word it came from.
      const word = args.find((a) => /^-[^-]/.test(a) && a.includes(quoted));
      return `unknown option '-${quoted}'${word && word !== `-${quoted}` ? ` (in '${word}')` : ""}`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const long = quoted
        .replace(/ <value>$/, "")
        .split(",")
        .at(-1)
        ?.trim();
      return message.includes("does not take an argument")
        ? `option '${long}' takes no value`
        : `option '${long}' needs a value`;
    }
    default:
      return message;
  }
}

/** Renders `qmpkit NAME --help`: usage, description, every flag, examples. */
export function renderCommandHelp(spec: CommandSpec): string {
  const flags = Object.entries<FlagSpec>({ ...spec.flags, ...COMMON_FLAGS }).map(([name, flag]) => {
    const short = flag.short ? `-${flag.short}, ` : "    ";
    const value = flag.type === "string" ? ` ${flag.value ?? "VALUE"}` : "";
    const repeat = flag.multiple ? " (repeatable)" : "";
    return [`  ${short}--${name}${value}`, `${flag.description}${repeat}`] as const;
  });
  const column = Math.max(...flags.map(([left]) => left.length)) + 2;
  return [
    `Usage: qmpkit ${spec.name} ${spec.usage}`,
    "",
    spec.description,
    "",
    "Options:",
    ...flags.map(([left, right]) => `${left.padEnd(column)}${right}`),
    "",
    "Examples:",
    ...spec.examples.map((e) => `  ${e}`),
    "",
  ].join("\n");
}

/** Parses a positive number of seconds from a flag. */
export function parseSeconds(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (text.trim() === "" || !Number.isFinite(seconds) || seconds <= 0) {
    throw new CliUsageError(`--${flag} needs a positive number of seconds, got '${text}'`);
  }
  return seconds;
}

/** Parses a positive integer from a flag. */
export function parseCount(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) === 0) {
    throw new CliUsageError(`--${flag} needs a positive whole number, got '${text}'`);
  }
  return Number(text);
}
