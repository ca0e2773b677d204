/**
 * Child process of reliability-hygiene.test.ts: `cycles` connect/disconnect cycles of ONE client object against
 * the fake QEMU, then a report of open descriptors, JS heap objects and RSS before and after (each after a full
 * GC), and of the abort listeners left on the signal every call shared. It then releases everything and must
 * exit by itself: a timer, socket or handle left behind would keep the event loop alive, and the parent's
 * bounded wait would fail.
 *
 * Modes: `clean` — connect, wait for STOP while `stop` runs, `cont`, disconnect; `faulty` — every cycle meets a
 * different server fault (garbage, malformed greeting, reset, half a reply, a cut at byte N, an oversized reply)
 * and must end in a typed error, back to IDLE.
 */
import { heapStats } from "bun:jsc";
import { getEventListeners } from "node:events";
import { QMPClient, QMPError, Runstate } from "@qmpkit/qmp";
import { openFdCount } from "../../qmp/test/reliability-helpers.ts";
import { createFakeQemu, type Fault, faults } from "../src/index.ts";

const mode = process.argv[2] === "faulty" ? "faulty" : "clean";
const cycles = Number(process.argv[3] ?? 10_000);
const MIB = 1024 * 1024;
const BOUND = 10_000;

const fake = await createFakeQemu({ schema: false, record: false });
const client = new QMPClient({ maxMessageBytes: 64 * 1024 });
// One signal for every call: each call must remove its abort listener when it settles.
const shared = new AbortController();
const opts = { signal: shared.signal, timeoutMs: BOUND };

const FAULTS: (() => Fault)[] = [
  () => faults.garbage("}{\r\n", "before-greeting"),
  () => faults.malformedGreeting(),
  () => faults.reset("stop"),
  () => faults.closeMidMessage("stop"),
  () => faults.closeAfterBytes(100),
  () => faults.hugeReply("stop", 0.25),
];

async function clean(): Promise<void> {
  await client.connect(fake.address, opts);
  const stopped = client.waitForEvent("STOP", opts);
  await client.execute("stop", undefined, opts);
  await stopped;
  await client.execute("cont", undefined, opts);
  await client.disconnect();
}

async function faulty(i: number): Promise<void> {
  fake.inject((FAULTS[i % FAULTS.length] as () => Fault)());
  try {
    await client.connect(fake.address, opts);
    await client.execute("stop", undefined, opts);
    await client.execute("cont", undefined, opts);
  } catch (error) {
    if (!(error instanceof QMPError)) throw error;
  }
  try {
    await client.disconnect();
  } catch (error) {
    if (!(error instanceof QMPError)) throw error;
  }
  // A fault that ended the session may have left the VM stopped.
  fake.status = "running";
}

async function cycle(i: number): Promise<void> {
  if (mode === "clean") await clean();
  else await faulty(i);
  if (client.runstate !== Runstate.IDLE) throw new Error(`runstate ${client.runstate} after disconnect`);
}

// Warm up, so lazily created structures (JIT, caches, the fake's first connections) do not count as growth.
for (let i = 0; i < 200; i++) await cycle(i);
Bun.gc(true);
const fdBefore = openFdCount();
const rssBefore = process.memoryUsage().rss;
const objectsBefore = heapStats().objectCount;
const started = performance.now();
for (let i = 0; i < cycles; i++) await cycle(i);
const seconds = (performance.now() - started) / 1000;
Bun.gc(true);
const fdAfter = openFdCount();
const rssAfter = process.memoryUsage().rss;
const objectsAfter = heapStats().objectCount;
const abortListeners = getEventListeners(shared.signal, "abort").length;
const pending = client.pendingCount;
await fake.close();

console.log(
  JSON.stringify({
    mode,
    cycles,
    seconds,
    fdBefore,
    fdAfter,
    objectsBefore,
    objectsAfter,
    rssBeforeMiB: rssBefore / MIB,
    rssAfterMiB: rssAfter / MIB,
    abortListeners,
    pending,
    fakeClients: fake.clients.length,
  }),
);
