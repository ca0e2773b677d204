import { CONNECTION_FLAGS, defineCommand, parseSeconds } from "../cli.ts";
import { CliUsageError, isExecuteError } from "../errors.ts";
import { colorEnabled } from "../format.ts";
import {
  type BlockJobInfo,
  type JobEnding,
  type JobInfo,
  type MigrationInfo,
  measureProgress,
  type ProgressRow,
  type ProgressSnapshot,
  progressFinished,
  recordJobEvent,
  renderProgressBars,
  renderProgressLines,
  settleVanished,
} from "../progress-view.ts";
import { connectionOptions, open, type Session, takeTarget } from "../session.ts";

/** Runs a query, treating "no such command" (qemu-ga, old QEMU) as absent data. */
async function optional<T>(session: Session, command: string): Promise<T | undefined> {
  try {
    return (await session.execute(command)) as T;
  } catch (error) {
    if (isExecuteError(error) && error.errorClass === "CommandNotFound") return undefined;
    throw error;
  }
}

/** One poll of everything `progress` shows. */
export async function takeSnapshot(
  session: Session,
  now: () => number = performance.now.bind(performance),
): Promise<ProgressSnapshot> {
  const [jobs, blockJobs, migration] = await Promise.all([
    optional<JobInfo[]>(session, "query-jobs"),
    optional<BlockJobInfo[]>(session, "query-block-jobs"),
    optional<MigrationInfo>(session, "query-migrate"),
  ]);
  return {
    at: now(),
    ...(jobs ? { jobs } : {}),
    ...(blockJobs ? { blockJobs } : {}),
    ...(migration ? { migration } : {}),
  };
}

/** Events that tell how a job ended; auto-dismissed jobs leave query-jobs before the next poll. */
const JOB_EVENTS = ["JOB_STATUS_CHANGE", "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED", "BLOCK_JOB_ERROR"];

export const progressCommand = defineCommand({
  name: "progress",
  summary: "live progress bars for block jobs and migration, with rate and ETA",
  usage: "[options] (ADDRESS | --fake)",
  description: [
    "Polls query-jobs, query-block-jobs and query-migrate, and watches the job events, and draws",
    "a bar per job (and one for migration) with the rate measured between polls and the time",
    "left at that rate. Exits when everything has finished: 0 if all succeeded, 1 if a job or",
    "the migration failed or was cancelled. With nothing running it exits at once (--wait waits",
    "for something to start); jobs and migrations that had already finished are not shown.",
    "Not on a terminal, it prints one logfmt line per job per poll instead",
    "(job=… type=… status=… done=… total=… percent=… rate=… eta=…; job=migration for migration).",
  ].join("\n"),
  flags: {
    ...CONNECTION_FLAGS,
    interval: { type: "string", value: "SECONDS", description: "time between polls (default 1)" },
    once: { type: "boolean", description: "print one poll and exit" },
    wait: { type: "boolean", description: "with nothing running yet, wait for a job or migration to start" },
  },
  examples: [
    "qmpkit progress unix:/tmp/qmp.sock",
    "qmpkit progress --wait unix:/tmp/qmp.sock",
    "qmpkit progress localhost:4444 --interval 5 > progress.log",
  ],
  async run({ values, positionals }, io) {
    const interval = parseSeconds("interval", values.interval) ?? 1;
    const { target, rest } = takeTarget(positionals, values);
    if (rest.length > 0)
      throw new CliUsageError(`unexpected argument '${rest[0]}' (progress shows every job)`);
    const session = await open(io, target, connectionOptions(values));
    const tty = io.stdout.isTTY === true;
    const color = colorEnabled(io.stdout, io.env);
    const stop = new AbortController();
    const onInterrupt = () => stop.abort();
    process.once("SIGINT", onInterrupt);
    const endings = new Map<string, JobEnding>();
    const watching = watchJobEvents(session, endings, stop.signal);
    let previous: ProgressSnapshot | undefined;
    let shown: ProgressRow[] = [];
    // Rows already settled when we first looked (last week's migration): history, not progress.
    let stale: Set<string> | undefined;
    let drawn = 0;
    try {
      for (;;) {
        const current = await takeSnapshot(session);
        let rows = measureProgress(previous, current);
        stale ??= new Set(rows.filter((r) => r.finished).map((r) => r.key));
        rows = rows.filter((r) => !(stale?.has(r.key) && r.finished));
        // A job seen finished once stays in the picture until the end.
        const settled = shown.filter((r) => r.finished && !rows.some((n) => n.key === r.key));
        rows = [...rows, ...settleVanished(shown, rows, endings), ...settled];
        if (rows.length === 0 && shown.length === 0 && !values.wait) {
          io.stdout.write("no block jobs or migration running\n");
          return 0;
        }
        // Read each frame: the window may have been resized since the last one.
        const width = io.stdout.columns ?? 80;
        const lines = tty ? renderProgressBars(rows, { width, color }) : renderProgressLines(rows);
        io.stdout.write(tty ? redraw(drawn, lines) : lines.map((l) => `${l}\n`).join(""));
        drawn = lines.length;
        shown = rows;
        const waiting = values.wait === true && rows.length === 0;
        if (values.once || stop.signal.aborted || (!waiting && progressFinished(rows)))
          return rows.some((r) => r.failed) ? 1 : 0;
        previous = current;
        await sleep(interval * 1000, stop.signal);
      }
    } finally {
      process.off("SIGINT", onInterrupt);
      stop.abort();
      await session.close();
      await watching;
    }
  },
});

/**
 * A frame that replaces the previous one (`drawn` lines) in place: back to column 0 (a ^C echoed by the
 * terminal moved the cursor), up over the old frame, and each line cleared as it is rewritten. Clearing line
 * by line rather than to the end of the screen keeps terminals that save a screen cleared from the top
 * (tmux's scroll-on-clear) from pushing every frame into the scrollback.
 */
export function redraw(drawn: number, lines: readonly string[]): string {
  let out = drawn > 0 ? `\r\x1b[${drawn}A` : "";
  for (const line of lines) out += `\x1b[2K${line}\n`;
  const leftover = drawn - lines.length;
  if (leftover > 0) out += `${"\x1b[2K\n".repeat(leftover)}\x1b[${leftover}A`;
  return out;
}

/** Collects job endings from events until `signal` aborts or the session ends. */
async function watchJobEvents(
  session: Session,
  endings: Map<string, JobEnding>,
  signal: AbortSignal,
): Promise<void> {
  try {
    for await (const event of session.events({ names: JOB_EVENTS, signal })) recordJobEvent(endings, event);
  } catch {
    // The polls report a broken session; the events only add detail.
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (Ctrl-C redraws without waiting out the interval). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
