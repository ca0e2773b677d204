/**
 * The soak run (`bun run bench:soak`, or `bun bench/soak.ts --quick`): 1,000,000 commands and 1,000,000 events
 * through ONE QMPClient, against the testkit's fake QEMU in a child process, with a seeded random interleaving:
 * each command asks the server to emit 0, 1 or (rarely) 25 events before its reply, and commands go out in
 * batches of 1 to 1,024 in flight. Prints throughput, p50/p99 command latency and RSS at start, middle and end;
 * exits 1 on any lost, duplicated, reordered or mismatched message.
 *
 * Options: --quick (100,000 of each), --commands N, --events N, --seed N.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type EventListener, QMPClient, type QMPEvent, type QMPMessage } from "../packages/qmp/src/index.ts";
import { Latencies, prng, type RssSample, sampleRss, sig3, thousands } from "./lib/soak-stats.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    commands: { type: "string" },
    events: { type: "string" },
    seed: { type: "string", default: "1" },
  },
});
const defaultCount = values.quick ? 100_000 : 1_000_000;
const COMMANDS = Number(values.commands ?? defaultCount);
const EVENTS = Number(values.events ?? defaultCount);
const SEED = Number(values.seed);
const WINDOWS = [1, 4, 16, 64, 256, 1024] as const;

// ---- the server, in its own process ----------------------------------------------------------------------------

const server = Bun.spawn([process.execPath, join(import.meta.dir, "lib/soak-server.ts")], {
  stdin: "pipe",
  stdout: "pipe",
  stderr: "inherit",
});
const stopServer = (): void => {
  server.kill();
};
process.once("SIGINT", () => {
  stopServer();
  process.exit(130);
});
process.once("SIGTERM", () => {
  stopServer();
  process.exit(143);
});

async function serverAddress(): Promise<string> {
  const reader = server.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the soak server exited before it listened");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return (JSON.parse(text.slice(0, text.indexOf("\n"))) as { address: string }).address;
}

// ---- the client ------------------------------------------------------------------------------------------------

interface Tally {
  wireReplies: number;
  wireEvents: number;
  mismatchedReplies: number;
  failedCommands: number;
  eventsReceived: number;
  lostEvents: number;
  duplicatedEvents: number;
  overflowErrors: number;
}

const tally: Tally = {
  wireReplies: 0,
  wireEvents: 0,
  mismatchedReplies: 0,
  failedCommands: 0,
  eventsReceived: 0,
  lostEvents: 0,
  duplicatedEvents: 0,
  overflowErrors: 0,
};

/** How many events each command asks for: mean 1, mostly 0 or 1, sometimes a burst of 25; sums to `EVENTS`. */
function eventPlan(random: () => number): Uint16Array {
  const plan = new Uint16Array(COMMANDS);
  const mean = EVENTS / COMMANDS;
  let remaining = EVENTS;
  for (let i = 0; i < COMMANDS && remaining > 0; i++) {
    const r = random();
    const k = r < 0.02 * mean ? 25 : random() < 0.51 * mean ? 1 : 0;
    plan[i] = Math.min(k, remaining);
    remaining -= plan[i] as number;
  }
  // The random walk ends near, not at, the target: the last command carries the rest.
  plan[COMMANDS - 1] = (plan[COMMANDS - 1] as number) + remaining;
  return plan;
}

/** Reads events as an application would (get() per event) and checks each is the next one. */
async function consume(listener: EventListener<QMPEvent>): Promise<void> {
  let expected = 0;
  while (true) {
    let event: QMPEvent;
    try {
      event = await listener.get();
    } catch (error) {
      if ((error as { code?: string }).code === "QMP_ERR_EVENT_OVERFLOW") {
        tally.overflowErrors++;
        continue;
      }
      break; // closed: everything buffered was read
    }
    const e = event.data.e as number;
    tally.eventsReceived++;
    if (e === expected) expected++;
    else if (e < expected) tally.duplicatedEvents++;
    else {
      tally.lostEvents += e - expected;
      expected = e + 1;
    }
  }
  tally.lostEvents += Math.max(0, EVENTS - expected);
}

async function main(): Promise<number> {
  const address = await serverAddress();
  const random = prng(SEED);
  const plan = eventPlan(random);
  const client = new QMPClient({
    onInbound: (message: QMPMessage) => {
      if (message.event !== undefined) tally.wireEvents++;
      else if (message.return !== undefined) tally.wireReplies++;
    },
  });
  await client.connect(address, { timeoutMs: 10_000 });
  // Overflow "error": a consumer that fell behind would be reported, not silently dropped.
  const listener = client.listen({ names: ["SOAK"], highWaterMark: 1 << 20, overflow: "error" });
  const consumer = consume(listener);
  const latencies = new Latencies(COMMANDS);
  // Commands sent alone (a batch of 1): their latency is a round trip, with no queueing behind others.
  const alone = new Latencies(COMMANDS);
  // Sampled after the measurement arrays exist, so start and end hold the same fixed allocations.
  const rss: RssSample[] = [sampleRss("start", true)];

  const run = async (seq: number, single: boolean): Promise<void> => {
    const started = performance.now();
    try {
      const value = (await client.executeUntyped("soak", { seq, events: plan[seq] })) as { seq: number };
      const ms = performance.now() - started;
      latencies.add(ms);
      if (single) alone.add(ms);
      if (value.seq !== seq) tally.mismatchedReplies++;
    } catch {
      tally.failedCommands++;
    }
  };

  const started = performance.now();
  let sent = 0;
  let middleSampled = false;
  // The most events waiting in the listener after a batch: how far the event consumer lagged.
  let peakBacklog = 0;
  while (sent < COMMANDS) {
    const window = WINDOWS[Math.floor(random() * WINDOWS.length)] as number;
    const batch: Promise<void>[] = [];
    for (let i = 0; i < window && sent < COMMANDS; i++) batch.push(run(sent++, window === 1));
    await Promise.all(batch);
    peakBacklog = Math.max(peakBacklog, listener.size);
    if (!middleSampled && sent >= COMMANDS / 2) {
      middleSampled = true;
      rss.push(sampleRss("middle", false));
    }
  }
  const seconds = (performance.now() - started) / 1000;
  rss.push(sampleRss("end", false));
  const emitted = ((await client.executeUntyped("soak-stats")) as { emitted: number }).emitted;
  // Every event precedes its command's reply, so all of them are delivered by now: closing ends the consumer
  // once it has read what is buffered.
  listener.close();
  await consumer;
  await client.disconnect();
  rss.push(sampleRss("end, after GC", true));

  const problems: string[] = [];
  const expectReplies = COMMANDS + 2; // + qmp_capabilities + soak-stats
  if (tally.wireReplies !== expectReplies)
    problems.push(`${tally.wireReplies} replies on the wire, expected ${expectReplies}`);
  if (tally.wireEvents !== EVENTS)
    problems.push(`${tally.wireEvents} events on the wire, expected ${EVENTS}`);
  if (emitted !== EVENTS) problems.push(`the server emitted ${emitted} events, expected ${EVENTS}`);
  if (latencies.count !== COMMANDS)
    problems.push(`${latencies.count} commands resolved, expected ${COMMANDS}`);
  if (tally.failedCommands > 0) problems.push(`${tally.failedCommands} commands failed`);
  if (tally.mismatchedReplies > 0)
    problems.push(`${tally.mismatchedReplies} replies resolved the wrong command`);
  if (tally.eventsReceived !== EVENTS)
    problems.push(`${tally.eventsReceived} events received, expected ${EVENTS}`);
  if (tally.lostEvents > 0) problems.push(`${tally.lostEvents} events lost`);
  if (tally.duplicatedEvents > 0)
    problems.push(`${tally.duplicatedEvents} events duplicated or out of order`);
  if (tally.overflowErrors > 0 || listener.dropped > 0)
    problems.push(`${listener.dropped} events dropped by the listener`);

  const lines = [
    `qmpkit soak: ${thousands(COMMANDS)} commands + ${thousands(EVENTS)} events through one QMPClient ` +
      `(fake QEMU in a child process, unix socket), seed ${SEED}, ${WINDOWS[0]}–${WINDOWS.at(-1)} in flight`,
    `wall ${seconds.toFixed(1)} s · ${thousands(COMMANDS / seconds)} cmd/s · ${thousands(EVENTS / seconds)} events/s · ` +
      `${thousands((COMMANDS + EVENTS) / seconds)} messages/s`,
    `command latency (send to resolve, queueing included): p50 ${sig3(latencies.percentile(50))} ms · ` +
      `p99 ${sig3(latencies.percentile(99))} ms · max ${sig3(latencies.percentile(100))} ms`,
    `latency of commands sent alone (${thousands(alone.count)}): p50 ${sig3(alone.percentile(50))} ms · p99 ${sig3(alone.percentile(99))} ms`,
    `RSS MiB: ${rss.map((s) => `${s.label} ${s.rssMiB.toFixed(1)}`).join(" · ")}`,
    `JS heap MiB: ${rss.map((s) => `${s.label} ${s.heapMiB.toFixed(1)}`).join(" · ")}`,
    `lost ${tally.lostEvents} · duplicated/reordered ${tally.duplicatedEvents} · mismatched replies ` +
      `${tally.mismatchedReplies} · failed ${tally.failedCommands} · listener drops ${listener.dropped} ` +
      `(peak backlog ${thousands(peakBacklog)} of ${thousands(listener.highWaterMark)})`,
    problems.length === 0 ? "OK: no message lost or duplicated" : `FAILED: ${problems.join("; ")}`,
  ];
  console.log(lines.join("\n"));
  return problems.length === 0 ? 0 : 1;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  console.error(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  stopServer();
  await server.exited;
}
process.exit(exitCode);
