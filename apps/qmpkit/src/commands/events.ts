import { CONNECTION_FLAGS, defineCommand, parseCount, parseSeconds } from "../cli.ts";
import { CliError, CliUsageError, ExitCode } from "../errors.ts";
import { detectStyle, formatJson } from "../format.ts";
import { connectionOptions, open, type Session, takeTarget } from "../session.ts";

/**
 * `--name stop` or `--name STOPP` would silently match nothing: names the server's schema does not list are
 * refused, with the likely one. Servers without a schema (old QEMU) are taken at their word.
 */
async function checkEventNames(session: Session, names: readonly string[]): Promise<void> {
  let known: Set<string>;
  try {
    const schema = (await session.execute("query-qmp-schema")) as { name: string; "meta-type": string }[];
    known = new Set(schema.filter((e) => e["meta-type"] === "event").map((e) => e.name));
  } catch {
    return;
  }
  for (const name of names) {
    if (known.has(name)) continue;
    const upper = name.toUpperCase();
    const near = [...known].filter(
      (k) => k === upper || k.startsWith(upper.slice(0, -1)) || upper.startsWith(k),
    );
    const hint = near.length > 0 ? `; did you mean ${near.slice(0, 3).join(" or ")}?` : "";
    throw new CliUsageError(
      `the server has no event named '${name}'${hint} ('qmpkit schema --events' lists them)`,
    );
  }
}

/** The --regex and --data tests as one predicate. */
export function eventFilter(
  regex: string | undefined,
  data: readonly string[],
): (event: { event: string; data?: unknown }) => boolean {
  let pattern: RegExp | undefined;
  try {
    pattern = regex === undefined ? undefined : new RegExp(regex);
  } catch (error) {
    throw new CliUsageError(`--regex '${regex}' is not a regular expression: ${(error as Error).message}`);
  }
  const pairs = data.map((pair) => {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliUsageError(`--data needs KEY=VALUE, got '${pair}'`);
    return { keys: pair.slice(0, eq).split("."), value: pair.slice(eq + 1) };
  });
  return (event) => {
    if (pattern && !pattern.test(event.event)) return false;
    return pairs.every(({ keys, value }) => {
      let current: unknown = event.data;
      for (const key of keys) current = (current as Record<string, unknown> | undefined)?.[key];
      if (current === undefined) return false;
      return (typeof current === "string" ? current : JSON.stringify(current)) === value;
    });
  };
}

/** QEMU's event timestamp as local ISO 8601 with milliseconds (virsh --timestamp prints the same instant). */
export function eventTime(event: { timestamp?: { seconds: number; microseconds: number } }): string {
  const t = event.timestamp;
  const ms = t ? Number(t.seconds) * 1000 + Math.floor(Number(t.microseconds) / 1000) : Date.now();
  const date = new Date(ms);
  const offset = -date.getTimezoneOffset();
  const local = new Date(ms + offset * 60_000).toISOString().slice(0, -1);
  const sign = offset >= 0 ? "+" : "-";
  const hh = String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0");
  const mm = String(Math.abs(offset) % 60).padStart(2, "0");
  return `${local}${sign}${hh}:${mm}`;
}

/** `--timeout` ran out before `--count` events arrived. */
export class EventTimeoutError extends CliError {
  override name = "EventTimeoutError";
  override readonly code = "QMPKIT_ERR_EVENT_TIMEOUT";
  override readonly exitCode = ExitCode.commandFailed;
}

export const eventsCommand = defineCommand({
  name: "events",
  summary: "print events as JSON Lines until interrupted",
  usage: "[options] (ADDRESS | --fake)",
  description: [
    "Prints every event the server sends, one compact JSON object per line, until Ctrl-C",
    "(which closes the connection cleanly), --count events have arrived, or --timeout runs out.",
    "With both --count and --timeout, running out of time first is a failure (exit 1), so a",
    "script can wait for an event with a deadline.",
  ].join("\n"),
  flags: {
    ...CONNECTION_FLAGS,
    name: { type: "string", multiple: true, value: "NAME", description: "only events named NAME" },
    count: { type: "string", value: "N", description: "exit after N events" },
    timeout: { type: "string", value: "SECONDS", description: "exit after SECONDS" },
    pretty: { type: "boolean", short: "p", description: "indent each event (one JSON document per event)" },
    regex: {
      type: "string",
      value: "PATTERN",
      description: "only events whose name matches PATTERN (a regular expression, as virsh's --regex)",
    },
    data: {
      type: "string",
      multiple: true,
      value: "KEY=VALUE",
      description: "only events whose data has KEY (dotted for nested) equal to VALUE, as text",
    },
    timestamp: {
      type: "boolean",
      short: "t",
      description: "start each line with the event's time (QEMU's timestamp, local ISO 8601)",
    },
  },
  examples: [
    "qmpkit events unix:/tmp/qmp.sock",
    "qmpkit events --fake --name STOP --name RESUME",
    "qmpkit events -t --regex '^BLOCK_JOB' --data device=drive0 unix:/tmp/qmp.sock",
    "qmpkit events localhost:4444 --name SHUTDOWN --count 1 --timeout 30",
  ],
  async run({ values, positionals }, io) {
    const count = parseCount("count", values.count);
    const timeout = parseSeconds("timeout", values.timeout);
    const { target, rest } = takeTarget(positionals, values);
    if (rest.length > 0)
      throw new CliUsageError(`unexpected argument '${rest[0]}' (use --name to pick events)`);
    const wanted = eventFilter(values.regex, values.data ?? []);
    const session = await open(io, target, connectionOptions(values));
    if (values.name !== undefined) {
      try {
        await checkEventNames(session, values.name);
      } catch (error) {
        await session.close();
        throw error;
      }
    }
    const style = detectStyle(io.stdout, io.env, values.pretty === true);
    const stop = new AbortController();
    const onInterrupt = () => stop.abort();
    process.once("SIGINT", onInterrupt);
    const timer = timeout === undefined ? undefined : setTimeout(() => stop.abort(), timeout * 1000);
    let seen = 0;
    try {
      const names = values.name;
      for await (const event of session.events({ signal: stop.signal, ...(names ? { names } : {}) })) {
        if (!wanted(event)) continue;
        const when = values.timestamp ? `${eventTime(event)} ` : "";
        io.stdout.write(`${when}${formatJson(event, style)}\n`);
        seen++;
        if (count !== undefined && seen >= count) break;
      }
    } finally {
      clearTimeout(timer);
      process.off("SIGINT", onInterrupt);
      await session.close();
    }
    if (count !== undefined && seen < count && timeout !== undefined) {
      throw new EventTimeoutError(`timed out after ${timeout}s with ${seen} of ${count} events`);
    }
    return 0;
  },
});
