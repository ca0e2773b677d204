/**
 * The shell's loop: lines in, messages out, replies and events printed. Two modes:
 *
 * - interactive (stdin is a terminal): readline with a `(QEMU) ` / `TRANS> ` prompt, tab
 *   completion from the server's schema, persistent history, events printed above the prompt
 *   without eating what the user is typing;
 * - piped: one line at a time, each reply as one JSON line (`{"return": …}` or
 *   `{"error": {"class": …, "desc": …}}`, as QEMU sent it), parse errors on stderr with their
 *   line number, and an exit status that says whether everything worked.
 *
 * Without a session (`--dry-run`) each message is printed instead of sent.
 */

// node:fs and node:readline are imported where used: a bundle evaluates static builtin imports at start-up,
// which would slow every command (`--version` included) for the shell's sake.
import type { WriteStream } from "node:fs";
import { dirname } from "node:path";
import type { Interface } from "node:readline";
import type { CliIO } from "../cli.ts";
import { ConnectionLostError, isExecuteError, MessageRefusedError } from "../errors.ts";
import { formatCliError, formatJson, type OutputStyle } from "../format.ts";
import { loadSchema } from "../schema.ts";
import type { Session } from "../session.ts";
import {
  type CompletionSource,
  complete,
  completionSourceFromCommands,
  completionSourceFromSchema,
} from "./complete.ts";
import { completeHmp, type HmpCompletionSource, hmpCompletionSource } from "./hmp-complete.ts";
import {
  type CommandMessage,
  hmpCpuIndex,
  initialShellState,
  parseShellLine,
  type ShellLineResult,
  type ShellState,
  toHmp,
} from "./parse.ts";
import { installReverseSearch } from "./reverse-search.ts";

export interface ShellOptions {
  readonly style: OutputStyle;
  /** Print each message before sending it. */
  readonly verbose: boolean;
  /** Send every line as `human-monitor-command`. */
  readonly hmp: boolean;
  /** The session is the embedded fake: the banner must not claim a real QEMU. */
  readonly fake?: boolean;
  /** Append sent messages and replies, one JSON per line. */
  readonly logFile?: string;
  /** Where history persists in interactive mode; `null` for none. */
  readonly historyFile?: string | null;
}

const HISTORY_SIZE = 1000;

const CLOSED_NOTE = "(the connection closed)";

/** What the event printer and the interactive loop share. */
interface ShellUi {
  /** The interactive line editor, once started. */
  rl?: Interface;
  /** Whichever readline reads the input (interactive or piped): closed when the session ends. */
  input?: Interface;
  /** A command is in flight: no prompt is on screen to redraw. */
  busy: boolean;
  /** The session ended (QEMU quit or went away). */
  ended: boolean;
  /** HMP: the CPU chosen with `cpu N`, sent as `cpu-index` with every later command. */
  cpu?: number;
  /** Called after `qmp_capabilities` succeeded (under `-N`): the commands are known only now. */
  onNegotiated?: () => Promise<void>;
}

/** Exit statuses of a piped run: 2 if any line failed to parse, else 1 if any command failed. */
interface Tally {
  parseErrors: number;
  failedCommands: number;
}

/**
 * Runs the shell until stdin ends. Resolves with the exit status.
 * @param session the connection, or `undefined` to print messages instead of sending them.
 */
export async function runShell(
  session: Session | undefined,
  options: ShellOptions,
  io: CliIO,
): Promise<number> {
  const log = options.logFile
    ? (await import("node:fs")).createWriteStream(options.logFile, { flags: "a" })
    : undefined;
  const interactive = io.stdin.isTTY === true;
  // readline draws through a Node stream; everything the shell prints goes the same way, in order.
  if (interactive && io.terminal) io = { ...io, stdout: io.terminal as unknown as CliIO["stdout"] };
  const tally: Tally = { parseErrors: 0, failedCommands: 0 };
  const stopEvents = new AbortController();
  // Shared with the interactive loop, so events know whether a prompt is on screen.
  const ui: ShellUi = { busy: false, ended: false };

  const print = (text: string) => io.stdout.write(`${text}\n`);
  // An event arriving while the user types: clear the prompt line, print, redraw prompt and input.
  const printEvent = (text: string) => {
    if (ui.rl && !ui.busy) {
      io.stdout.write("\r\x1b[K");
      print(text);
      ui.rl.prompt(true);
    } else {
      // Mid-command: clear whatever was typed meanwhile; it comes back with the next prompt.
      if (ui.rl) io.stdout.write("\r\x1b[K");
      print(text);
    }
  };

  // The event stream ends when the session does (QEMU quit or died): an interactive shell then ends
  // too, rather than wait for a line it could not send.
  const eventsDone = session
    ? pumpEvents(session, stopEvents.signal, (e) => printEvent(formatJson(e, options.style))).then(() => {
        if (stopEvents.signal.aborted) return;
        ui.ended = true;
        // Waiting for input: stop reading now. Mid-command: the loop stops after printing the reply.
        if (ui.busy) return;
        if (ui.rl) io.stdout.write(`\r\x1b[K${CLOSED_NOTE}\n`);
        ui.input?.close();
      })
    : undefined;

  const send = async (message: CommandMessage | Record<string, unknown>) => {
    if (options.verbose || !session) print(formatJson(message, options.style));
    log?.write(`${JSON.stringify({ sent: message })}\n`);
    if (!session) return;
    ui.busy = true;
    try {
      let reply: Awaited<ReturnType<typeof exchange>>;
      try {
        reply = await exchange(session, message);
      } catch (error) {
        // The session ended under this command: the shell ends too. If that was abnormal (QEMU killed),
        // closing the session reports it, once.
        if (error instanceof ConnectionLostError) {
          ui.ended = true;
          return;
        }
        // Refused by the client before sending (say, a raw line with a numeric id): report, go on.
        if (!(error instanceof MessageRefusedError)) throw error;
        tally.parseErrors++;
        io.stderr.write(`${formatCliError(error.message, options.style.color)}\n`);
        return;
      }
      log?.write(`${JSON.stringify({ received: reply })}\n`);
      if ("error" in reply) tally.failedCommands++;
      else if (message.execute === "qmp_capabilities") await ui.onNegotiated?.();
      const value = "return" in reply ? reply.return : undefined;
      // Keys typed while the command ran are on screen without a prompt: clear them off this line (readline
      // keeps them and redraws them after the next prompt) so the reply starts at column 0.
      if (ui.rl) io.stdout.write("\r\x1b[K");
      print(
        options.hmp && typeof value === "string"
          ? value.replace(/\n$/, "")
          : formatJson(reply, options.style),
      );
    } finally {
      ui.busy = false;
    }
  };

  // `cpu N` under -H: checked the way qmp-shell checks it (a harmless command with that `cpu-index`), then kept.
  const hmpLine = async (line: string): Promise<boolean> => {
    const cpu = options.hmp ? hmpCpuIndex(line) : undefined;
    if (cpu === undefined) return false;
    if (Number.isNaN(cpu)) {
      tally.parseErrors++;
      io.stderr.write(`${formatCliError("cpu takes one CPU index, as in 'cpu 1'", options.style.color)}\n`);
      return true;
    }
    const reply = session
      ? await exchange(session, toHmp("info version", cpu)).catch(() => undefined)
      : undefined;
    if (reply && "error" in reply) {
      tally.failedCommands++;
      io.stderr.write(`${formatCliError(`cpu ${cpu}: ${reply.error.desc}`, options.style.color)}\n`);
    } else if (reply || !session) {
      ui.cpu = cpu;
    }
    return true;
  };

  try {
    if (interactive) {
      await interactiveLoop(session, options, io, send, hmpLine, ui);
      return 0;
    }
    return await pipedLoop(options, io, send, hmpLine, tally, ui);
  } finally {
    stopEvents.abort();
    await eventsDone;
    ui.rl?.close();
    if (log) await new Promise<void>((resolve) => (log as WriteStream).end(resolve));
  }
}

/** Sends one message and returns the reply as QEMU shaped it. */
async function exchange(
  session: Session,
  message: CommandMessage | Record<string, unknown>,
): Promise<{ return: unknown } | { error: { class: string; desc: string } }> {
  const keys = Object.keys(message);
  const plain =
    typeof message.execute === "string" && keys.every((k) => k === "execute" || k === "arguments");
  if (!plain) return (await session.sendRaw(message)) as { return: unknown };
  try {
    const args = message.arguments as Record<string, unknown> | undefined;
    return { return: await session.execute(message.execute as string, args) };
  } catch (error) {
    if (isExecuteError(error)) return { error: { class: error.errorClass, desc: error.desc } };
    throw error;
  }
}

async function pumpEvents(
  session: Session,
  signal: AbortSignal,
  print: (event: unknown) => void,
): Promise<void> {
  try {
    for await (const event of session.events({ signal })) print(event);
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

/**
 * Completion from the schema, falling back to `query-commands`, then to `qmp_capabilities` alone: a monitor
 * still negotiating (`-N`) answers nothing else until it is sent.
 */
async function completionSource(session: Session): Promise<CompletionSource> {
  try {
    return completionSourceFromSchema(loadSchema(await session.execute("query-qmp-schema")));
  } catch {
    try {
      const list = (await session.execute("query-commands")) as { name: string }[];
      return completionSourceFromCommands(list.map((c) => c.name));
    } catch {
      return completionSourceFromCommands(["qmp_capabilities"]);
    }
  }
}

/** HMP completion from this QEMU's `help` and `help info`; nothing if it will not say. */
async function hmpSource(session: Session): Promise<HmpCompletionSource> {
  const help = async (line: string) => {
    try {
      const text = await session.execute("human-monitor-command", { "command-line": line });
      return typeof text === "string" ? text : "";
    } catch {
      return "";
    }
  };
  return hmpCompletionSource(await help("help"), await help("help info"));
}

function step(line: string, state: ShellState, hmp: boolean, cpu?: number): ShellLineResult {
  if (!hmp) return parseShellLine(line, state);
  return line.trim() === ""
    ? { kind: "empty", state }
    : { kind: "command", message: toHmp(line, cpu), state };
}

async function pipedLoop(
  options: ShellOptions,
  io: CliIO,
  send: (message: CommandMessage | Record<string, unknown>) => Promise<void>,
  hmpLine: (line: string) => Promise<boolean>,
  tally: Tally,
  ui: ShellUi,
): Promise<number> {
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: io.stdin, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
  ui.input = rl;
  let state = initialShellState;
  let lineNumber = 0;
  for await (const line of rl) {
    // The connection closed (after quit, or QEMU went away): input after that is not read.
    if (ui.ended) break;
    lineNumber++;
    if (await hmpLine(line)) continue;
    const result = step(line, state, options.hmp, ui.cpu);
    state = result.state;
    if (result.kind === "error") {
      tally.parseErrors++;
      io.stderr.write(
        `${formatCliError(`line ${lineNumber}, column ${result.error.column}: ${result.error.message}`, false)}\n`,
      );
    } else if (result.kind === "command" || result.kind === "raw") {
      await send(result.message);
    }
  }
  if (state.transaction && !ui.ended) {
    tally.parseErrors++;
    const n = state.transaction.actions.length;
    io.stderr.write(
      `${formatCliError(`input ended inside 'transaction(' with ${n} action(s); nothing was sent`, false)}\n`,
    );
  }
  return tally.parseErrors > 0 ? 2 : tally.failedCommands > 0 ? 1 : 0;
}

async function interactiveLoop(
  session: Session | undefined,
  options: ShellOptions,
  io: CliIO,
  send: (message: CommandMessage | Record<string, unknown>) => Promise<void>,
  hmpLine: (line: string) => Promise<boolean>,
  ui: ShellUi,
): Promise<void> {
  let state = initialShellState;
  let source: CompletionSource = completionSourceFromCommands([]);
  let hmp: HmpCompletionSource = { commands: [], infoCommands: [] };
  if (session && options.hmp) hmp = await hmpSource(session);
  else if (session) source = await completionSource(session);
  if (session) {
    ui.onNegotiated = async () => {
      source = await completionSource(session);
    };
  }
  const history = options.historyFile ? await loadHistory(options.historyFile) : [];
  const { createInterface } = await import("node:readline");
  const rl = createInterface({
    input: io.stdin,
    output: io.stdout as NodeJS.WritableStream,
    terminal: true,
    history,
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    completer: (line: string) => (options.hmp ? completeHmp(hmp, line) : complete(source, line, state)),
  });
  installReverseSearch(rl);
  ui.rl = rl;
  ui.input = rl;
  const prompt = () => rl.setPrompt(state.transaction ? "TRANS> " : "(QEMU) ");
  rl.on("SIGINT", () => {
    // Ctrl-C drops the current line and any open transaction, like a shell; Ctrl-D quits.
    if (state.transaction) io.stdout.write("\n(transaction discarded)");
    state = initialShellState;
    prompt();
    io.stdout.write("\n");
    // Ctrl-U empties readline's buffer and redraws the (new) prompt.
    rl.write(null, { ctrl: true, name: "u" });
  });
  io.stdout.write(`${welcome(session, options.fake === true)}\n`);
  prompt();
  rl.prompt();
  // Each line is appended as it is entered: a second shell's lines survive, and so does this session's when
  // the terminal closes under it. The file is trimmed to HISTORY_SIZE lines when a session starts.
  const remember = options.historyFile ? await historyAppender(options.historyFile) : undefined;
  try {
    for await (const line of rl) {
      if (ui.ended) break;
      if (line.trim() !== "") remember?.(line);
      if (await hmpLine(line)) {
        prompt();
        rl.prompt(true);
        continue;
      }
      const result = step(line, state, options.hmp, ui.cpu);
      state = result.state;
      if (result.kind === "error") {
        io.stdout.write(`${" ".repeat(rl.getPrompt().length + result.error.column - 1)}^\n`);
        io.stderr.write(`${formatCliError(`${result.error.message}`, options.style.color)}\n`);
      } else if (result.kind === "command" || result.kind === "raw") {
        // Anything else (the connection broke) ends the shell; main() prints it once.
        await send(result.message);
      }
      if (ui.ended) {
        io.stdout.write(`${CLOSED_NOTE}\n`);
        return;
      }
      prompt();
      // preserveCursor: keys typed while the command ran stay editable where they were (prompt() alone moves
      // the cursor to column 0 of them, which left Ctrl-U nothing to delete).
      rl.prompt(true);
    }
    // Ctrl-D leaves the cursor after the prompt.
    if (!ui.ended) io.stdout.write("\n");
  } finally {
    // Nothing to save: every line went to the file as it was entered.
  }
}

function welcome(session: Session | undefined, fake: boolean): string {
  if (!session) return "qmpkit shell (dry run: messages are printed, not sent). Ctrl-D quits.";
  const qemu = (
    session.greeting as { QMP?: { version?: { qemu?: Record<string, number>; package?: string } } }
  )?.QMP?.version;
  const v = qemu?.qemu;
  const version = v ? ` ${v.major}.${v.minor}.${v.micro}` : "";
  const what = fake ? `the embedded fake QEMU (it answers as QEMU${version} would)` : `QEMU${version}`;
  return `Connected to ${what}. Tab completes, Ctrl-C clears the line, Ctrl-D quits.`;
}

async function loadHistory(path: string): Promise<string[]> {
  const file = Bun.file(path);
  if (!(await file.exists())) return [];
  const lines = (await file.text()).split("\n").filter((l) => l !== "");
  // The file is oldest first; readline wants newest first.
  return lines.slice(-HISTORY_SIZE).reverse();
}

/**
 * Returns a function that appends one line to the history file. Appending (O_APPEND) interleaves the lines of
 * shells running side by side instead of one overwriting the other's; a file grown past twice the history
 * size is first cut back to its newest lines.
 */
async function historyAppender(path: string): Promise<(line: string) => void> {
  const fs = await import("node:fs");
  try {
    fs.mkdirSync(dirname(path), { recursive: true });
    const text = fs.existsSync(path) ? fs.readFileSync(path, "utf8") : "";
    const lines = text.split("\n").filter((l) => l !== "");
    if (lines.length > 2 * HISTORY_SIZE) {
      fs.writeFileSync(path, `${lines.slice(-HISTORY_SIZE).join("\n")}\n`);
    }
  } catch {
    // A read-only home must not stop the shell; appending below fails quietly too.
  }
  return (line: string) => {
    try {
      fs.appendFileSync(path, `${line.replace(/\n/g, " ")}\n`);
    } catch {
      // As above: history is a convenience.
    }
  };
}
