/**
 * `util.parseArgs({ args, options, strict: true, allowPositionals: true })` as Bun 1.4.4 runs it, without
 * loading `node:util`: that module (and the primordials it sets up) cost every command ~0.6 ms of a compiled
 * binary's start-up, more than anything else the CLI loads before it connects. Same results, same error
 * codes and messages, down to Bun's own quirks (a letter of a group like `-px` is named without its dash);
 * parse-flags.test.ts holds it against `util.parseArgs` on generated command lines.
 */

/** One option, as `util.parseArgs` takes it. */
export interface FlagOption {
  readonly type: "boolean" | "string";
  readonly short?: string;
  readonly multiple?: boolean;
}

export type FlagOptions = Readonly<Record<string, FlagOption>>;

export interface ParsedFlags {
  /** A null-prototype object, as parseArgs returns. */
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

/** What `util.parseArgs` throws: a TypeError with Node's `code`. */
export class ParseFlagsError extends TypeError {
  readonly code: "ERR_PARSE_ARGS_UNKNOWN_OPTION" | "ERR_PARSE_ARGS_INVALID_OPTION_VALUE";

  constructor(code: ParseFlagsError["code"], message: string) {
    super(message);
    this.code = code;
  }

  override get name(): string {
    return "TypeError";
  }
}

interface Token {
  readonly name: string;
  /** How the user wrote the option: `--name`, `-n`, or a bare letter from a group. */
  readonly rawName: string;
  readonly value: string | undefined;
  /** The value came in the same word (`--name=v`, `-nv`), so it may start with a dash. */
  readonly inline: boolean;
}

/**
 * Parses `args` against `options` in strict mode with positionals allowed.
 * @throws {ParseFlagsError} for an unknown option, a missing, unexpected or ambiguous value.
 */
export function parseFlags(args: readonly string[], options: FlagOptions): ParsedFlags {
  const values: ParsedFlags["values"] = Object.create(null);
  const positionals: string[] = [];
  const option = (name: string): FlagOption | undefined =>
    Object.hasOwn(options, name) ? options[name] : undefined;
  const longFor = (letter: string): string => {
    for (const [name, flag] of Object.entries(options)) if (flag.short === letter) return name;
    return letter;
  };
  const store = (token: Token): void => {
    checkUsage(token, option(token.name));
    const value = token.value ?? true;
    if (option(token.name)?.multiple) {
      const list = values[token.name];
      if (Array.isArray(list)) list.push(value);
      else values[token.name] = [value];
    } else {
      values[token.name] = value;
    }
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const next = args[i + 1];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.length === 2 && arg[0] === "-" && arg[1] !== "-") {
      // `-f`, perhaps followed by its value
      const name = longFor(arg.charAt(1));
      const takes = option(name)?.type === "string" && next !== undefined;
      if (takes) i++;
      store({ name, rawName: arg, value: takes ? next : undefined, inline: false });
      continue;
    }
    if (arg.length > 2 && arg[0] === "-" && arg[1] !== "-") {
      const first = longFor(arg.charAt(1));
      if (option(first)?.type === "string") {
        // `-fVALUE`
        store({ name: first, rawName: `-${arg.charAt(1)}`, value: arg.slice(2), inline: true });
        continue;
      }
      // A group of short flags, `-abc`; a string flag in it takes the rest of the word, or the next word.
      for (let at = 1; at < arg.length; at++) {
        const letter = arg.charAt(at);
        const name = longFor(letter);
        if (option(name)?.type !== "string") {
          store({ name, rawName: letter, value: undefined, inline: false });
        } else if (at < arg.length - 1) {
          store({ name, rawName: letter, value: arg.slice(at + 1), inline: true });
          break;
        } else {
          const takes = next !== undefined;
          if (takes) i++;
          store({ name, rawName: letter, value: takes ? next : undefined, inline: false });
        }
      }
      continue;
    }
    if (arg.length > 2 && arg.startsWith("--")) {
      // Bun splits at the first `=` only when a name precedes it: `--=x` is an option named `=x`.
      const equals = arg.indexOf("=");
      if (equals < 3) {
        // `--name`, perhaps followed by its value
        const name = arg.slice(2);
        const takes = option(name)?.type === "string" && next !== undefined;
        if (takes) i++;
        store({ name, rawName: arg, value: takes ? next : undefined, inline: false });
      } else {
        // `--name=value`
        const name = arg.slice(2, equals);
        store({ name, rawName: `--${name}`, value: arg.slice(equals + 1), inline: true });
      }
      continue;
    }
    positionals.push(arg);
  }
  return { values, positionals };
}

function checkUsage(token: Token, option: FlagOption | undefined): void {
  // Bun builds these messages natively: a lone surrogate (half of a split `-💥`) comes out as U+FFFD.
  const raw = token.rawName.toWellFormed();
  if (option === undefined) {
    throw new ParseFlagsError(
      "ERR_PARSE_ARGS_UNKNOWN_OPTION",
      `Unknown option '${raw}'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- "${raw}"`,
    );
  }
  const shortAndLong = `${option.short ? `-${option.short}, ` : ""}--${token.name}`;
  if (option.type === "string" && token.value === undefined) {
    throw new ParseFlagsError(
      "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
      `Option '${shortAndLong} <value>' argument missing`,
    );
  }
  if (option.type === "boolean" && token.value !== undefined) {
    throw new ParseFlagsError(
      "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
      `Option '${shortAndLong}' does not take an argument`,
    );
  }
  const value = token.value;
  if (!token.inline && value !== undefined && value.length > 1 && value[0] === "-") {
    const example = raw.startsWith("--") ? `'${raw}=-XYZ'` : `'--${token.name}=-XYZ' or '${raw}-XYZ'`;
    throw new ParseFlagsError(
      "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
      `Option '${raw}' argument is ambiguous.\nDid you forget to specify the option argument for '${raw}'?\nTo specify an option argument starting with a dash use ${example}.`,
    );
  }
}
