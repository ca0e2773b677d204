/**
 * A busy listener is not an absent one. QEMU's monitor serves one client and queues two more; qemu-ga queues two
 * while it is busy (or stopped). The next unix connect fails at once with EAGAIN, which Bun reports as
 * ECONNREFUSED — the code of a socket nobody listens on. connect() (QMP and QGA) retries a refused connect to a
 * socket file that exists, within its timeout, and when it gives up says the monitor is busy.
 *
 * Each test first fills the listener's queue with raw connections until one is refused, so the refusal the client
 * meets is the real kernel behaviour, not a guess.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ConnectError, ListenerBusyError, type Logger, QMPClient, Runstate } from "@qmpkit/qmp";
import { QGAClient } from "@qmpkit/qmp/qga";
import type { Socket } from "bun";
import { requireQemu, skipWithoutQemu, spawnQemu } from "../src/index.ts";
import { requireQemuGa, skipWithoutQemuGa, spawnQemuGa } from "../src/qga/spawn-qemu-ga.ts";
import { within } from "./helpers.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

/** Raw connections until the listener refuses one; returns the ones it queued. */
async function fillQueue(path: string): Promise<Socket<undefined>[]> {
  const queued: Socket<undefined>[] = [];
  cleanups.push(() => {
    for (const socket of queued) socket.terminate();
  });
  for (let i = 0; i < 16; i++) {
    try {
      queued.push(await Bun.connect({ unix: path, socket: { data() {} } }));
    } catch (error) {
      expect((error as { code?: unknown }).code).toBe("ECONNREFUSED");
      return queued;
    }
  }
  throw new Error(`${path} accepted 16 connections without refusing one`);
}

/** A logger that resolves `refused` at the first busy-retry line: the client has met the full queue. */
function refusalLogger(): { logger: Logger; refused: Promise<void> } {
  const { promise, resolve } = Promise.withResolvers<void>();
  const debug = (message: string): void => {
    if (message.includes("refused the connection")) resolve();
  };
  return { logger: { enabled: true, debug, info() {}, warn() {}, error() {} }, refused: promise };
}

function expectBusy(error: unknown): void {
  expect(error).toBeInstanceOf(ConnectError);
  const cause = (error as ConnectError).cause;
  expect(cause).toBeInstanceOf(ListenerBusyError);
  expect((error as Error).message).toContain("the monitor is busy (QEMU serves one client at a time)");
  expect((error as Error).message).not.toContain("nothing is listening");
}

describe.skipIf(skipWithoutQemu())("a real QEMU monitor held by other clients", () => {
  async function heldMonitor() {
    requireQemu();
    const qemu = await spawnQemu();
    cleanups.push(() => qemu.kill());
    const holder = new QMPClient();
    cleanups.push(() => holder.disconnect());
    await within(holder.connect(qemu.address));
    const queued = await fillQueue(qemu.path);
    // One served, two queued: QEMU's listen backlog.
    expect(queued.length).toBe(2);
    return { qemu, holder, queued };
  }

  test("connect gives up within its timeout saying the monitor is busy, and ends IDLE", async () => {
    const { qemu } = await heldMonitor();
    const client = new QMPClient();
    const error = await within(client.connect(qemu.address, { timeoutMs: 500 }).catch((e: unknown) => e));
    expectBusy(error);
    expect(client.runstate).toBe(Runstate.IDLE);
  });

  test("connect keeps trying while the monitor is busy and gets in once the others leave", async () => {
    const { qemu, holder, queued } = await heldMonitor();
    const { logger, refused } = refusalLogger();
    const client = new QMPClient({ logger });
    cleanups.push(() => client.disconnect());
    const connecting = client.connect(qemu.address, { timeoutMs: 15_000 });
    await within(refused, 5000, "the first refusal");
    for (const socket of queued) socket.end();
    await holder.disconnect();
    await within(connecting, 15_000, "connect after the monitor was freed");
    expect((await within(client.execute("query-status"))).status).toBeString();
  });
});

describe.skipIf(skipWithoutQemuGa())("a stopped (SIGSTOP) qemu-ga", () => {
  async function stoppedAgent() {
    requireQemuGa();
    const agent = await spawnQemuGa();
    cleanups.push(() => agent.kill());
    process.kill(agent.pid, "SIGSTOP");
    cleanups.push(() => process.kill(agent.pid, "SIGCONT"));
    const queued = await fillQueue(agent.address);
    expect(queued.length).toBeGreaterThan(0);
    return { agent, queued };
  }

  test("connect gives up within its timeout saying the monitor is busy, and ends IDLE", async () => {
    const { agent } = await stoppedAgent();
    const qga = new QGAClient();
    const error = await within(qga.connect(agent.address, { timeoutMs: 500 }).catch((e: unknown) => e));
    expectBusy(error);
    expect(qga.runstate).toBe(Runstate.IDLE);
  });

  test("connect keeps trying while the agent is stopped and synchronises once it runs again", async () => {
    const { agent, queued } = await stoppedAgent();
    const { logger, refused } = refusalLogger();
    const qga = new QGAClient({ logger });
    cleanups.push(() => qga.disconnect());
    const connecting = qga.connect(agent.address, { timeoutMs: 15_000 });
    await within(refused, 5000, "the first refusal");
    for (const socket of queued) socket.end();
    process.kill(agent.pid, "SIGCONT");
    await within(connecting, 15_000, "connect after the agent resumed");
    await within(qga.ping());
  });
});
