import { homedir } from "node:os";
import { join } from "node:path";
import { type CliIO, CONNECTION_FLAGS, defineCommand, type FlagSpecs, type FlagValues } from "../cli.ts";
import { CliUsageError } from "../errors.ts";
import { detectStyle } from "../format.ts";
import { connectionOptions, open, takeTarget } from "../session.ts";
import type { ShellOptions } from "../shell/repl.ts";

/** The shell's own flags, shared by `shell` and `qemu`. */
export const SHELL_FLAGS = {
  pretty: { type: "boolean", short: "p", description: "indent replies (the default on a terminal)" },
  compact: {
    type: "boolean",
    short: "c",
    description: "one line per reply and event, as qmp-shell prints them",
  },
  verbose: { type: "boolean", short: "v", description: "echo each message before sending it" },
  hmp: { type: "boolean", short: "H", description: "HMP mode: send every line as human-monitor-command" },
  log: {
    type: "string",
    short: "l",
    value: "FILE",
    description: "append messages and replies to FILE (JSON lines)",
  },
  history: {
    type: "string",
    value: "FILE",
    description: "history file (default ~/.qmpkit_history, ~/.qmpkit_history_hmp with -H)",
  },
  "no-history": { type: "boolean", description: "keep no history file" },
} as const satisfies FlagSpecs;

/**
 * `~/.qmpkit_history`, like qmp-shell's `~/.qmp-shell_history`; HMP lines (`-H`) have their own file, so Up
 * in one mode never brings back a line of the other's syntax.
 */
export function defaultHistoryFile(env: Readonly<Record<string, string | undefined>>, hmp = false): string {
  return join(env.HOME ?? homedir(), hmp ? ".qmpkit_history_hmp" : ".qmpkit_history");
}

/**
 * The shell's loop, loaded on first use: readline and the rest of the shell are not needed by
 * `--help`, `--version` or the other commands, and loading them costs start-up time.
 */
export async function loadShell(): Promise<typeof import("../shell/repl.ts")> {
  return import("../shell/repl.ts");
}

/** {@link ShellOptions} from the shell's flags. */
export function shellOptions(values: FlagValues<typeof SHELL_FLAGS>, io: CliIO): ShellOptions {
  return {
    style: detectStyle(io.stdout, io.env, values.pretty ? true : values.compact ? false : undefined),
    verbose: values.verbose === true,
    hmp: values.hmp === true,
    ...(values.log === undefined ? {} : { logFile: values.log }),
    historyFile: values["no-history"]
      ? null
      : (values.history ?? defaultHistoryFile(io.env, values.hmp === true)),
  };
}

export const shellCommand = defineCommand({
  name: "shell",
  summary: "interactive QMP shell, compatible with qmp-shell's syntax",
  usage: "[options] (ADDRESS | --fake)",
  description: [
    "Type 'command key=value ...': values that parse as JSON are JSON (numbers, true/false,",
    "null, [..], {..}), quoted values are strings, dotted keys nest (a.b=1), and a line starting",
    "with '{' is sent as-is. 'transaction(' starts a block of actions that ')' sends; the one-line",
    "form is 'transaction( a x=1, b y=2 )'. Events print as they arrive. Tab completes command",
    "and argument names, and enum values (driver=, sync=). With stdin not a terminal, it reads",
    "one command per line, prints each reply as a JSON line, and exits 1 if a command failed",
    "(2 if a line did not parse).",
  ].join("\n"),
  flags: {
    ...CONNECTION_FLAGS,
    ...SHELL_FLAGS,
    "skip-negotiation": {
      type: "boolean",
      short: "N",
      description: "do not send qmp_capabilities (to negotiate by hand)",
    },
    "dry-run": { type: "boolean", short: "n", description: "print the messages instead of sending them" },
  },
  examples: [
    "qmpkit shell --fake",
    "qmpkit shell unix:/tmp/qmp.sock",
    "qmpkit shell -H localhost:4444",
    "printf 'stop\\nquery-status\\n' | qmpkit shell unix:/tmp/qmp.sock",
    "echo 'blockdev-add driver=null-co node-name=n0' | qmpkit shell -n --fake",
  ],
  async run({ values, positionals }, io) {
    const { target, rest } = takeTarget(positionals, values);
    if (rest.length > 0)
      throw new CliUsageError(`unexpected argument '${rest[0]}' (the shell reads commands from stdin)`);
    const options = { ...shellOptions(values, io), fake: values.fake === true };
    const { runShell } = await loadShell();
    if (values["dry-run"]) return runShell(undefined, options, io);
    const session = await open(io, target, {
      ...connectionOptions(values),
      ...(values["skip-negotiation"] ? { skipNegotiation: true } : {}),
    });
    try {
      return await runShell(session, options, io);
    } finally {
      await session.close();
    }
  },
});
