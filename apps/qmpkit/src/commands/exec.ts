import { CONNECTION_FLAGS, defineCommand, parseSeconds } from "../cli.ts";
import { CliError, CliUsageError, ExitCode } from "../errors.ts";
import { detectStyle, formatJson } from "../format.ts";
import { writeWhole } from "../output.ts";
import { connectionOptions, DEFAULT_CONNECT_TIMEOUT_MS, open, type Session, takeTarget } from "../session.ts";
import { readJson } from "../shell/json-value.ts";
import { type CommandMessage, parseArgumentWords, toHmp } from "../shell/parse.ts";

/** `exec --timeout` ran out, connecting or waiting for the reply. Exit status 1, like `events --timeout`. */
export class ExecTimeoutError extends CliError {
  override name = "ExecTimeoutError";
  override readonly code = "QMPKIT_ERR_EXEC_TIMEOUT";
  override readonly exitCode = ExitCode.commandFailed;
}

/** The AbortSignal.timeout() of --timeout fired (its reason is a DOMException named TimeoutError). */
function isTimeoutAbort(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  const cause = (error as { cause?: { name?: unknown } } | null)?.cause;
  return name === "TimeoutError" || cause?.name === "TimeoutError";
}

/** Builds the message `exec` sends from its words: `CMD k=v…`, a JSON object, or HMP text. */
export function buildExecMessage(
  words: readonly string[],
  hmp: boolean,
): CommandMessage | Record<string, unknown> {
  const [first, ...rest] = words;
  if (first === undefined) throw new CliUsageError("missing COMMAND (see 'qmpkit exec --help')");
  if (hmp) return toHmp(words.join(" "));
  if (first.trimStart().startsWith("{")) {
    if (rest.length > 0) throw new CliUsageError("a JSON message must be one argument; quote it");
    const parsed = readJson(first);
    if (!parsed.ok)
      throw new CliUsageError(`invalid JSON message at column ${parsed.offset + 1}: ${parsed.message}`);
    return parsed.value as Record<string, unknown>;
  }
  // A quoted `'x a=1'` is one word: it would go out as a command literally named "x a=1".
  if (hasSpace(first.trim())) {
    throw new CliUsageError(
      `'${first}' is not a command name; give the command and each KEY=VALUE as separate words: ${first.trim()}`,
    );
  }
  const args = parseArgumentWords(rest);
  if (!args.ok) throw new CliUsageError(args.error.message);
  return { execute: first.trim(), arguments: args.arguments };
}

export const execCommand = defineCommand({
  name: "exec",
  summary: "run one command and print its return value as JSON",
  usage: "[options] (ADDRESS | --fake) COMMAND [KEY=VALUE ...]",
  description: [
    "Runs one QMP command and prints its return value: pretty JSON on a terminal, one compact",
    "line otherwise. Arguments use the shell's KEY=VALUE syntax (values that parse as JSON are",
    "JSON, dotted keys nest); COMMAND may also be a whole JSON message. A server error prints",
    "'ErrorClass: description' on stderr and exits 1; connection problems exit 2.",
  ].join("\n"),
  flags: {
    ...CONNECTION_FLAGS,
    pretty: { type: "boolean", short: "p", description: "indent the JSON even when not on a terminal" },
    compact: { type: "boolean", description: "one-line JSON even on a terminal" },
    hmp: {
      type: "boolean",
      short: "H",
      description: "send the words as one HMP command line (human-monitor-command)",
    },
    timeout: { type: "string", value: "SECONDS", description: "fail if the reply takes longer than SECONDS" },
    "dry-run": {
      type: "boolean",
      short: "n",
      description: "print the message instead of sending it; connects to nothing",
    },
  },
  examples: [
    "qmpkit exec unix:/tmp/qmp.sock query-status",
    "qmpkit exec --fake qom-get path=/machine property=type",
    "qmpkit exec unix:/tmp/qmp.sock blockdev-add driver=null-co node-name=n0 size=1048576",
    "qmpkit exec localhost:4444 -H -- info block -v",
    `qmpkit exec -n --fake '{"execute": "qom-list", "arguments": {"path": "/"}}'`,
  ],
  async run({ values, positionals, rest: afterDashes }, io) {
    // Words after `--` are COMMAND words too: `-H -- info block -v` keeps `-v` from the parser.
    const { target, rest } = takeTarget([...positionals, ...afterDashes], values, 1);
    // `exec S --fake query-status`: S was meant as the address, which --fake replaces.
    const [maybeAddress, second] = rest;
    if (
      values.fake &&
      !values.hmp &&
      maybeAddress !== undefined &&
      second !== undefined &&
      !/[={]/.test(second)
    ) {
      throw new CliUsageError(
        `'${maybeAddress}' looks like an address, and --fake takes the place of one: drop '${maybeAddress}' or --fake`,
      );
    }
    const message = buildExecMessage(rest, values.hmp === true);
    const pretty = values.pretty ? true : values.compact ? false : undefined;
    const style = detectStyle(io.stdout, io.env, pretty);
    if (values["dry-run"]) {
      await writeWhole(io.stdout, `${formatJson(message, style)}\n`);
      return 0;
    }
    const timeout = parseSeconds("timeout", values.timeout);
    const name = typeof message.execute === "string" ? message.execute : "the message";
    // --timeout is the whole budget: a hung QEMU may accept the connection and never greet.
    const deadline = timeout === undefined ? undefined : performance.now() + timeout * 1000;
    const options = connectionOptions(values);
    const connectBudget =
      timeout === undefined
        ? options
        : {
            ...options,
            connectTimeoutMs: Math.min(
              options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
              timeout * 1000,
            ),
          };
    let session: Session;
    try {
      session = await open(io, target, connectBudget);
    } catch (error) {
      if (timeout !== undefined && deadline !== undefined && performance.now() >= deadline - 50) {
        throw new ExecTimeoutError(
          `'${name}' timed out after ${timeout}s while connecting to ${(error as Error).message.replace(/^cannot connect to /, "")}`,
          { cause: error },
        );
      }
      throw error;
    }
    try {
      const left = deadline === undefined ? undefined : Math.max(1, deadline - performance.now());
      const signal = left === undefined ? undefined : AbortSignal.timeout(left);
      const isCommand = typeof message.execute === "string" && onlyExecuteAndArguments(message);
      const result = isCommand
        ? await session.execute(
            message.execute as string,
            message.arguments as Record<string, unknown> | undefined,
            signal ? { signal } : {},
          )
        : await session.sendRaw(message);
      // HMP answers are text meant for a terminal, not JSON.
      await writeWhole(
        io.stdout,
        values.hmp && typeof result === "string" ? result : `${formatJson(result, style)}\n`,
      );
      // A raw message prints the whole reply; an error reply is still a failed command.
      const failed = !isCommand && typeof result === "object" && result !== null && "error" in result;
      return failed ? 1 : 0;
    } catch (error) {
      if (isTimeoutAbort(error))
        throw new ExecTimeoutError(`'${name}' got no reply within ${timeout}s`, { cause: error });
      throw error;
    } finally {
      // Closing the client and the embedded fake in order runs ~60 functions once each, cold: a quarter of a
      // one-shot exec's time after its reply. Exiting closes the socket as disconnect() would (QMP has no
      // goodbye), and the in-process fake ends with the process.
      if (!io.exitsAfterRun) await session.close();
    }
  },
});

/**
 * `/\s/.test(text)` without a regular expression: trim() removes exactly what `\s` matches, so a character is one
 * when trimming leaves nothing. A compiled binary compiles a regular expression on its first use (this one took
 * ~0.03 ms, and the process's first ~0.06 ms); exec runs this once.
 */
function hasSpace(text: string): boolean {
  for (let i = 0; i < text.length; i++) if ((text[i] as string).trim() === "") return true;
  return false;
}

/**
 * True when `message` has no member but `execute` and `arguments`. A loop, not `Object.keys().every()`: this runs
 * once per `exec`, where `every`'s first call would cost the binary ~0.05 ms of builtin set-up.
 */
function onlyExecuteAndArguments(message: object): boolean {
  for (const key of Object.keys(message)) if (key !== "execute" && key !== "arguments") return false;
  return true;
}
