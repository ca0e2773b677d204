import { CONNECTION_FLAGS, defineCommand, parseCount, parseSeconds } from "../cli.ts";
import { CliError, ExitCode, UsageError } from "../errors.ts";
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
    throw new UsageError(
      `the server has no event named '${name}'${hint} ('qmpkit schema --events' lists them)`,
    );
  }
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
  },
  examples: [
    "qmpkit events unix:/tmp/qmp.sock",
    "qmpkit events --fake --name STOP --name RESUME",
    "qmpkit events localhost:4444 --name SHUTDOWN --count 1 --timeout 30",
  ],
  async run({ values, positionals }, io) {
    const count = parseCount("count", values.count);
    const timeout = parseSeconds("timeout", values.timeout);
    const { target, rest } = takeTarget(positionals, values);
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}' (use --name to pick events)`);
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
        io.stdout.write(`${formatJson(event, style)}\n`);
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
