/**
 * The fake QEMU under hostile clients (issue 9, item 3): random bytes, a client that never reads while events
 * flood, a hundred clients that connect and vanish. In every case the fake keeps serving a well-behaved
 * `@qmpkit/qmp` client and never throws (an exception in one of its socket handlers would fail this file).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { connect, type QMPClient, Runstate } from "@qmpkit/qmp";
import type { Socket } from "bun";
import fc from "fast-check";
import { createFakeQemu, type FakeQemu, type FakeQemuOptions, faults } from "../src/index.ts";
import { connectRaw, within } from "./helpers.ts";

const BOUND = 10_000;
const runs = Number(process.env.QMPKIT_PROPERTY_RUNS ?? (process.env.CI === "true" ? 100 : 30));
const cleanups: (() => Promise<unknown> | unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fakeQemu(options: FakeQemuOptions = {}): Promise<FakeQemu> {
  const fake = await createFakeQemu({ record: false, ...options });
  cleanups.push(() => fake.close());
  return fake;
}

async function goodClient(fake: FakeQemu): Promise<QMPClient> {
  const client = await within(connect(fake.address), BOUND, "the good client's connect");
  cleanups.push(() => client.disconnect().catch(() => {}));
  return client;
}

/** The good client still gets its own replies, and its events. */
async function expectServing(fake: FakeQemu, client: QMPClient): Promise<void> {
  using stops = client.listen({ names: ["STOP", "RESUME"] });
  await within(client.execute("stop"), BOUND, "stop");
  await within(client.execute("cont"), BOUND, "cont");
  expect(stops.clear().map((e) => e.event)).toEqual(["STOP", "RESUME"]);
  expect((await within(client.execute("query-status"), BOUND)).status).toBe("running");
  expect(fake.errors).toEqual([]);
}

/** A raw client socket; `paused` never reads (the kernel buffers fill, then the fake's queue grows). */
async function rawSocket(address: string, options: { paused?: boolean } = {}): Promise<Socket<undefined>> {
  const socket = await connectRaw(address, {
    open(socket) {
      if (options.paused) socket.pause();
    },
    data() {},
    close() {},
    error() {},
  });
  cleanups.push(() => socket.terminate());
  return socket;
}

/** Waits (bounded) until the fake lists `count` clients: it noticed the others leave. */
async function untilClients(fake: FakeQemu, count: number): Promise<void> {
  await within(
    (async () => {
      while (fake.clients.length !== count) await Bun.sleep(5);
    })(),
    BOUND,
    `the fake to list ${count} client(s)`,
  );
}

describe("random bytes", () => {
  test("any bytes from one client (property): the fake answers or skips them and keeps serving another", async () => {
    const fake = await fakeQemu({ multiClient: true });
    const client = await goodClient(fake);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 512 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (chunks, abrupt) => {
          const socket = await rawSocket(fake.address);
          await untilClients(fake, 2);
          for (const chunk of chunks) socket.write(chunk);
          if (abrupt) socket.terminate();
          else socket.end();
          // The fake has read the bytes and seen the close (data comes before close) once it lists one client.
          await untilClients(fake, 1);
          expect(await within(client.execute("query-status"), BOUND)).toMatchObject({ status: "running" });
        },
      ),
      { numRuns: runs },
    );
    await untilClients(fake, 1);
    await expectServing(fake, client);
  });
});

describe("a client that never reads", () => {
  test(
    "events flood while one client never reads: the other gets every event and reply in order",
    async () => {
      const fake = await fakeQemu({ multiClient: true, record: true });
      const stuck = await rawSocket(fake.address, { paused: true });
      stuck.write('{"execute": "qmp_capabilities"}\n');
      const client = await goodClient(fake);
      using floods = client.listen({ names: ["FLOOD"], highWaterMark: 200_000 });
      // Wait until the stuck client is in command mode, so the flood is queued for it too.
      await within(fake.waitFor("qmp_capabilities", { count: 2 }), BOUND);
      const count = 100_000;
      for (let n = 0; n < count; n++) fake.emit("FLOOD", { n });
      expect((await within(client.execute("query-status"), BOUND)).status).toBe("running");
      const got = floods.clear().map((e) => e.data.n);
      expect(got.length).toBe(count);
      expect(got.every((n, i) => n === i)).toBe(true);
      await expectServing(fake, client);
      // The stuck client vanishes; its unread queue goes with it.
      stuck.terminate();
      await untilClients(fake, 1);
      await expectServing(fake, client);
      // 100,000 events take ~2 s on a quiet machine; the bounds above stay the limit, not the runner's 5 s.
    },
    4 * BOUND,
  );
});

describe("clients that vanish", () => {
  /** 100 clients: some say nothing, some send half a command, some negotiate; each then vanishes. */
  async function hundredVanishing(fake: FakeQemu): Promise<void> {
    const sockets = await Promise.all(Array.from({ length: 100 }, () => rawSocket(fake.address)));
    // All 100 accepted by the fake (beside the good client) before they act and vanish.
    await untilClients(fake, 101);
    sockets.forEach((socket, i) => {
      if (i % 3 === 1) socket.write('{"execute": "qmp_capab');
      if (i % 3 === 2) socket.write('{"execute": "qmp_capabilities"}\n{"execute": "query-status"}\n');
      if (i % 2 === 0) socket.terminate();
      else socket.end();
    });
  }

  test("one-client mode: 100 queued clients vanish; the served client carries on, and the next one is served", async () => {
    const fake = await fakeQemu();
    const client = await goodClient(fake);
    await hundredVanishing(fake);
    await expectServing(fake, client);
    await untilClients(fake, 1);
    await within(client.disconnect(), BOUND);
    const next = await goodClient(fake);
    await expectServing(fake, next);
  });

  test("multi-client mode: 100 clients vanish mid-session; the good client carries on", async () => {
    const fake = await fakeQemu({ multiClient: true });
    const client = await goodClient(fake);
    await hundredVanishing(fake);
    await expectServing(fake, client);
    await untilClients(fake, 1);
    await expectServing(fake, client);
  });

  test("a connection cut as it opens (closeAfterBytes(0)) does not hold the monitor: the next client is served", async () => {
    const fake = await fakeQemu();
    fake.inject(faults.closeAfterBytes(0));
    const first = await rawSocket(fake.address);
    void first;
    await untilClients(fake, 0);
    const client = await goodClient(fake);
    await expectServing(fake, client);
    expect(client.runstate).toBe(Runstate.RUNNING);
  });
});
