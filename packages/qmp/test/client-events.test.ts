// Event delivery: ordering against replies, listeners (names, filter, overflow, disposal), waitForEvent.

import { afterEach, describe, expect, test } from "bun:test";
import {
  ConnectionClosedError,
  EventListener,
  EventOverflowError,
  ListenerClosedError,
  QMPClient,
  type QMPEvent,
  TimeoutError,
  UsageError,
} from "../src/index.ts";
import { type Json, type ScriptOptions, scriptServer } from "./helpers/script-server.ts";
import { rejection, within } from "./helpers/within.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

async function setup(script: ScriptOptions = {}) {
  const server = scriptServer(script);
  cleanups.push(() => server.stop());
  const client = new QMPClient();
  cleanups.push(() => client.disconnect());
  await within(client.connect(server.path));
  const peer = await server.peer();
  return { server, client, peer };
}

function event(name: string, data?: Json, seconds = 1): Json {
  return data === undefined
    ? { event: name, timestamp: { seconds, microseconds: 0 } }
    : { event: name, data, timestamp: { seconds, microseconds: 0 } };
}

/** Sends `events` then answers the command, all in one write: the client must still deliver events first. */
function eventsThenReply(events: Json[]): ScriptOptions {
  return {
    onCommand: (m, peer) => {
      const lines = [...events, { return: {}, id: m.id }].map((x) => `${JSON.stringify(x)}\r\n`).join("");
      peer.send(lines);
    },
  };
}

/** A local listener fed directly, for buffer behaviour that needs no socket. */
function feed(listener: EventListener, count: number, from = 0): void {
  const client = new QMPClient();
  client.addListener(listener);
  for (let i = from; i < from + count; i++) {
    (client as unknown as { onMessage(m: Json): void }).onMessage(event("E", { i }));
  }
  client.removeListener(client.events);
}

describe("ordering", () => {
  // The client makes its default listener on first need: it must still hold every event of the session and be
  // served before listeners added after the client was made.
  test("the default listener, first read after the events came, has them all and is served first", async () => {
    const { client } = await setup(eventsThenReply([event("STOP"), event("RESUME")]));
    using user = client.listen();
    await client.execute("query-status");
    expect(client.events.clear().map((e) => e.event)).toEqual(["STOP", "RESUME"]);
    user.clear();
    const order: string[] = [];
    const byUser = user.get().then(() => order.push("user"));
    const byDefault = client.events.get().then(() => order.push("default"));
    await client.execute("query-status");
    await Promise.all([byUser, byDefault]);
    expect(order).toEqual(["default", "user"]);
  });

  test("events sent before a reply are delivered before execute() resolves", async () => {
    const { client } = await setup(eventsThenReply([event("STOP"), event("RESUME")]));
    using listener = client.listen();
    await client.execute("query-status");
    // Synchronous checks, right after the await: the events are already there.
    expect(listener.empty()).toBe(false);
    expect(listener.clear().map((e) => e.event)).toEqual(["STOP", "RESUME"]);
  });

  test("a get() waiting before the command resolves before the command's await continues", async () => {
    const { client } = await setup(eventsThenReply([event("STOP")]));
    const order: string[] = [];
    const got = client.events.get().then(() => order.push("event"));
    await client.execute("query-status").then(() => order.push("reply"));
    await got;
    expect(order).toEqual(["event", "reply"]);
  });

  test("every listener gets every event in wire order; data defaults to {} when QEMU omits it", async () => {
    const { client } = await setup(eventsThenReply([event("A"), event("B", { x: 1 }), event("C")]));
    using one = client.listen();
    using two = client.listen();
    await client.execute("query-status");
    const expected: QMPEvent[] = [
      { event: "A", data: {}, timestamp: { seconds: 1, microseconds: 0 } },
      { event: "B", data: { x: 1 }, timestamp: { seconds: 1, microseconds: 0 } },
      { event: "C", data: {}, timestamp: { seconds: 1, microseconds: 0 } },
    ];
    expect(one.clear()).toEqual(expected);
    expect(two.clear()).toEqual(expected);
    expect(client.events.clear()).toEqual(expected);
  });

  test("a listener nobody reads never stalls replies (its buffer stays bounded and counts drops)", async () => {
    const burst = Array.from({ length: 50 }, (_, i) => event("TICK", { i }));
    const { client } = await setup(eventsThenReply(burst));
    using lagging = client.listen({ highWaterMark: 8 });
    for (let round = 0; round < 5; round++) await within(client.execute("query-status"));
    expect(lagging.size).toBe(8);
    expect(lagging.dropped).toBe(250 - 8);
  });
});

describe("listeners", () => {
  test("names selects events by name, filter by predicate", async () => {
    const { client } = await setup(
      eventsThenReply([
        event("STOP"),
        event("BLOCK_JOB_READY", { device: "a" }),
        event("BLOCK_JOB_READY", { device: "b" }),
      ]),
    );
    using stops = client.listen({ names: ["STOP"] });
    using jobB = client.listen({ names: ["BLOCK_JOB_READY"], filter: (e) => e.data.device === "b" });
    using anyA = client.listen({ filter: (e) => e.data.device === "a" });
    await client.execute("query-status");
    expect(stops.clear().map((e) => e.event)).toEqual(["STOP"]);
    expect(jobB.clear().map((e) => e.data.device)).toEqual(["b"]);
    expect(anyA.clear().map((e) => e.data.device)).toEqual(["a"]);
  });

  test("a throwing filter counts as no match and does not disturb the session", async () => {
    const { client } = await setup(eventsThenReply([event("STOP")]));
    const thrown: unknown[] = [];
    const original = queueMicrotask;
    globalThis.queueMicrotask = (fn: () => void) =>
      original(() => {
        try {
          fn();
        } catch (error) {
          thrown.push(error);
        }
      });
    try {
      using faulty = client.listen({
        filter: () => {
          throw new Error("bad filter");
        },
      });
      await client.execute("query-status");
      expect(faulty.empty()).toBe(true);
    } finally {
      globalThis.queueMicrotask = original;
    }
    expect(thrown.map((e) => (e as Error).message)).toContain("bad filter");
    expect(client.events.clear().map((e) => e.event)).toEqual(["STOP"]);
  });

  test("drop-oldest (default) keeps the newest events and counts drops", () => {
    const listener = new EventListener({ highWaterMark: 3 });
    feed(listener, 5);
    expect(listener.dropped).toBe(2);
    expect(listener.clear().map((e) => e.data.i)).toEqual([2, 3, 4]);
  });

  test("drop-newest keeps the first events and counts drops", () => {
    const listener = new EventListener({ highWaterMark: 3, overflow: "drop-newest" });
    feed(listener, 5);
    expect(listener.dropped).toBe(2);
    expect(listener.clear().map((e) => e.data.i)).toEqual([0, 1, 2]);
  });

  test("error: the next get() throws EventOverflowError once, then the buffered events follow", async () => {
    const listener = new EventListener({ highWaterMark: 2, overflow: "error" });
    feed(listener, 4);
    const error = (await rejection(listener.get())) as EventOverflowError;
    expect(error).toBeInstanceOf(EventOverflowError);
    expect(error.code).toBe("QMP_ERR_EVENT_OVERFLOW");
    expect(error.dropped).toBe(2);
    expect((await listener.get()).data.i).toBe(0);
    expect((await listener.get()).data.i).toBe(1);
  });

  test("error: an overflow throws out of a for-await loop", async () => {
    const listener = new EventListener({ highWaterMark: 1, overflow: "error" });
    feed(listener, 2);
    const seen: unknown[] = [];
    const error = await rejection(
      (async () => {
        for await (const ev of listener) seen.push(ev);
      })(),
    );
    expect(error).toBeInstanceOf(EventOverflowError);
    expect(seen).toEqual([]);
  });

  test("highWaterMark must be a positive integer: buffers are never unbounded", () => {
    for (const bad of [0, -1, 1.5, Number.POSITIVE_INFINITY, Number.NaN]) {
      expect(() => new EventListener({ highWaterMark: bad })).toThrow(UsageError);
    }
  });

  test("disposal (using) unregisters: a disposed listener receives nothing more", async () => {
    const { client } = await setup(eventsThenReply([event("STOP")]));
    let kept: EventListener | undefined;
    {
      using scoped = client.listen();
      kept = scoped;
    }
    expect(kept.closed).toBe(true);
    await client.execute("query-status");
    expect(kept.empty()).toBe(true);
    expect(await rejection(kept.get())).toBeInstanceOf(ListenerClosedError);
  });

  test("close() rejects a waiting get() and ends iteration after the buffered events", async () => {
    const { client } = await setup(eventsThenReply([event("A"), event("B")]));
    const listener = client.listen();
    await client.execute("query-status");
    const seen: string[] = [];
    const iterating = (async () => {
      for await (const ev of listener) {
        seen.push(ev.event);
        if (seen.length === 2) listener.close();
      }
    })();
    await within(iterating);
    expect(seen).toEqual(["A", "B"]);
    const waiting = client.listen();
    const get = waiting.get();
    client.removeListener(waiting);
    expect(await rejection(get)).toBeInstanceOf(ListenerClosedError);
  });

  test("get() honours timeoutMs and signal", async () => {
    const listener = new EventListener();
    const timedOut = await rejection(listener.get({ timeoutMs: 20 }));
    expect(timedOut).toBeInstanceOf(TimeoutError);
    const reason = new Error("stop");
    const controller = new AbortController();
    const waiting = listener.get({ signal: controller.signal });
    controller.abort(reason);
    expect(await rejection(waiting)).toBe(reason);
    // The abandoned waiters are gone: the next event goes to the next get().
    feed(listener, 1);
    expect((await within(listener.get())).data.i).toBe(0);
  });

  test("iteration continues across a disconnect and a new session (listeners belong to the client)", async () => {
    const { client, server } = await setup(eventsThenReply([event("TICK")]));
    const seen: string[] = [];
    const listener = client.listen();
    const iterating = (async () => {
      for await (const ev of listener) {
        seen.push(ev.event);
        if (seen.length === 2) break;
      }
    })();
    await client.execute("query-status");
    await client.disconnect();
    await client.connect(server.path);
    await client.execute("query-status");
    await within(iterating);
    expect(seen).toEqual(["TICK", "TICK"]);
    // Leaving the loop does not close the listener.
    expect(listener.closed).toBe(false);
    listener.close();
  });
});

describe("waitForEvent", () => {
  test("cannot miss an event sent right after the command that caused it", async () => {
    const { client } = await setup(eventsThenReply([event("STOP")]));
    const stopped = client.waitForEvent("STOP");
    await client.execute("stop");
    expect((await within(stopped)).event).toBe("STOP");
  });

  test("filter picks the matching one; the listener is removed afterwards", async () => {
    const { client } = await setup(
      eventsThenReply([
        event("DEVICE_DELETED", { device: "a", path: "/a" }),
        event("DEVICE_DELETED", { device: "b", path: "/b" }),
      ]),
    );
    const b = client.waitForEvent("DEVICE_DELETED", { filter: (e) => e.data.device === "b" });
    await client.execute("query-status");
    expect((await within(b)).data).toEqual({ device: "b", path: "/b" });
  });

  test("timeoutMs rejects with TimeoutError", async () => {
    const { client } = await setup();
    expect(await rejection(client.waitForEvent("NEVER", { timeoutMs: 20 }))).toBeInstanceOf(TimeoutError);
  });

  test("rejects with ConnectionClosedError when the session ends first", async () => {
    const { client, peer } = await setup();
    const waiting = client.waitForEvent("NEVER");
    peer.socket.terminate();
    const error = await rejection(waiting);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect((error as Error).message).toContain("NEVER");
    await client.disconnect().catch(() => {});
  });

  test("racing quit: SHUTDOWN before the reply, then the close; nothing rejects", async () => {
    const { client } = await setup({
      onCommand: (m, peer) => {
        peer.send(event("SHUTDOWN", { guest: false, reason: "host-qmp-quit" }));
        peer.send({ return: {}, id: m.id });
        peer.close();
      },
    });
    const shutdown = client.waitForEvent("SHUTDOWN", { timeoutMs: 5000 });
    await within(client.execute("quit"));
    expect((await within(shutdown)).data.reason).toBe("host-qmp-quit");
    await within(client.disconnect());
  });
});
