/**
 * vm-status: print a QEMU's status, then tail its events until Ctrl-C.
 *
 *   bun vm-status.ts [SOCKET] [--exit-after-events N]
 *
 * SOCKET is QEMU's QMP socket: a path, `unix:PATH` or `tcp:HOST:PORT` (QEMU started with
 * `-qmp unix:/tmp/qmp.sock,server=on,wait=off`). Without one, a throwaway QEMU is started with `spawnQemu`
 * from @qmpkit/testkit (needs `qemu-system-x86_64`) and removed again on exit.
 */
import { parseArgs } from "node:util";
import {
  ConnectionClosedError,
  connect,
  type EventListener,
  type QMPClient,
  type QMPEvent,
  Runstate,
} from "@qmpkit/qmp";
import { type QemuProcess, spawnQemu } from "@qmpkit/testkit";

const USAGE = `usage: bun vm-status.ts [SOCKET] [--exit-after-events N]
  SOCKET                   QEMU's QMP socket (path, unix:PATH or tcp:HOST:PORT); default: start a QEMU
  --exit-after-events N    stop after N events instead of waiting for Ctrl-C`;

interface Args {
  socket: string | undefined;
  exitAfterEvents: number | undefined;
}

function parse(argv: string[]): Args | string {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(argv);
  } catch (error) {
    return (error as Error).message;
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) return `expected at most one SOCKET, got ${positionals.length}`;
  let exitAfterEvents: number | undefined;
  if (values["exit-after-events"] !== undefined) {
    exitAfterEvents = Number(values["exit-after-events"]);
    if (!Number.isInteger(exitAfterEvents) || exitAfterEvents < 1)
      return "--exit-after-events takes a count >= 1";
  }
  return { socket: positionals[0], exitAfterEvents };
}

function parseCli(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: { "exit-after-events": { type: "string" }, help: { type: "boolean", short: "h" } },
  });
}

function formatEvent(event: QMPEvent): string {
  const { seconds, microseconds } = event.timestamp;
  const when = seconds >= 0 ? new Date(seconds * 1000 + microseconds / 1000).toISOString() : "(no timestamp)";
  return `${when} ${event.event} ${JSON.stringify(event.data)}`;
}

/** A listener's iteration ends only when it is closed; close it when the session ends (QEMU quit or died). */
async function closeWhenSessionEnds(client: QMPClient, events: EventListener): Promise<void> {
  if (client.runstate !== Runstate.RUNNING) return events.close();
  for await (const state of client.runstateChanges()) {
    if (state !== Runstate.RUNNING) return events.close();
  }
}

async function tail(address: string, exitAfterEvents: number | undefined): Promise<void> {
  const client = await connect(address, { timeoutMs: 10_000 });
  try {
    const version = client.greeting?.QMP.version.qemu;
    console.log(`connected to QEMU ${version?.major}.${version?.minor}.${version?.micro} at ${address}`);
    const { status, running } = await client.execute("query-status");
    console.log(`status: ${status} (running: ${running})`);

    // Registered before anything is announced, so no event sent after the line below can be missed.
    const events = client.listen();
    let interrupted = false;
    process.on("SIGINT", () => {
      // The first Ctrl-C ends the tail cleanly; a second one means "now".
      if (interrupted) process.exit(130);
      interrupted = true;
      events.close();
    });
    process.on("SIGTERM", () => events.close());
    void closeWhenSessionEnds(client, events);
    console.log("tailing events (Ctrl-C to stop)");

    let seen = 0;
    for await (const event of events) {
      console.log(formatEvent(event));
      if (++seen === exitAfterEvents) break;
    }
  } finally {
    await hangUp(client);
  }
}

/**
 * Disconnects. disconnect() rethrows how the session ended when it ended on its own: for a tail, QEMU leaving is
 * news, not a failure.
 */
async function hangUp(client: QMPClient): Promise<void> {
  try {
    await client.disconnect();
    console.log("disconnected");
  } catch (error) {
    if (!(error instanceof ConnectionClosedError)) throw error;
    console.log("QEMU closed the connection");
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const args = parse(argv);
  if (typeof args === "string") {
    console.error(`vm-status: ${args}\n${USAGE}`);
    return 2;
  }
  let qemu: QemuProcess | undefined;
  try {
    if (args.socket === undefined) {
      qemu = await spawnQemu({ extraArgs: ["-name", "vm-status-demo"] });
      console.log(`started QEMU (pid ${qemu.pid})`);
    }
    await tail(args.socket ?? (qemu as QemuProcess).address, args.exitAfterEvents);
    return 0;
  } catch (error) {
    const cause = (error as Error).cause;
    console.error(
      `vm-status: ${(error as Error).message}${cause instanceof Error ? ` (${cause.message})` : ""}`,
    );
    return 1;
  } finally {
    await qemu?.[Symbol.asyncDispose]();
  }
}

process.exitCode = await main(Bun.argv.slice(2));
