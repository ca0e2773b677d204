import { CONNECTION_FLAGS, defineCommand, parseSeconds } from "../cli.ts";
import { isExecuteError } from "../errors.ts";
import { colorEnabled } from "../format.ts";
import {
  type BlockJobInfo,
  type JobInfo,
  type MigrationInfo,
  measureProgress,
  type ProgressSnapshot,
  progressFinished,
  renderProgressBars,
  renderProgressLines,
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

export const progressCommand = defineCommand({
  name: "progress",
  summary: "live progress bars for block jobs and migration, with rate and ETA",
  usage: "[options] (ADDRESS | --fake)",
  description: [
    "Polls query-jobs, query-block-jobs and query-migrate and draws a bar per job (and one for",
    "migration) with the rate measured between polls and the time left at that rate. Exits when",
    "everything has finished, at once if nothing is running. Not on a terminal, it prints one",
    "logfmt line per job per poll instead (job=… status=… done=… total=… rate=… eta=…).",
  ].join("\n"),
  flags: {
    ...CONNECTION_FLAGS,
    interval: { type: "string", value: "SECONDS", description: "time between polls (default 1)" },
    once: { type: "boolean", description: "print one poll and exit" },
  },
  examples: [
    "qmpkit progress unix:/tmp/qmp.sock",
    "qmpkit progress localhost:4444 --interval 5 > progress.log",
  ],
  async run({ values, positionals }, io) {
    const interval = parseSeconds("interval", values.interval) ?? 1;
    const { target } = takeTarget(positionals, values);
    const session = await open(io, target, connectionOptions(values));
    const tty = io.stdout.isTTY === true;
    const color = colorEnabled(io.stdout, io.env);
    const width = (process.stdout as { columns?: number }).columns ?? 80;
    let stopped = false;
    const onInterrupt = () => {
      stopped = true;
    };
    process.once("SIGINT", onInterrupt);
    let previous: ProgressSnapshot | undefined;
    let drawn = 0;
    try {
      for (;;) {
        const current = await takeSnapshot(session);
        const rows = measureProgress(previous, current);
        if (rows.length === 0 && previous === undefined) {
          io.stdout.write("no block jobs or migration running\n");
          return 0;
        }
        const lines = tty ? renderProgressBars(rows, { width, color }) : renderProgressLines(rows);
        // Redraw in place: up over the previous bars, clear to the end of the screen.
        if (tty && drawn > 0) io.stdout.write(`\x1b[${drawn}A\x1b[J`);
        io.stdout.write(lines.length > 0 ? `${lines.join("\n")}\n` : "");
        drawn = lines.length;
        if (values.once || stopped || progressFinished(rows))
          return rows.some((r) => r.error !== undefined) ? 1 : 0;
        previous = current;
        await Bun.sleep(interval * 1000);
      }
    } finally {
      process.off("SIGINT", onInterrupt);
      await session.close();
    }
  },
});
