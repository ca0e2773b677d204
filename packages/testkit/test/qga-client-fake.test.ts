// QGAClient's session, resynchronisation and queue, driven through the fake agent's faults.

import { afterEach, describe, expect, test } from "bun:test";
import { ConnectError, ConnectionClosedError, Runstate, StateError } from "@qmpkit/protocol-core";
import {
  QGAClient,
  QGAError,
  QGAInterruptedError,
  QGASyncError,
  QGATimeoutError,
  QGAVsockUnsupportedError,
} from "@qmpkit/qmp/qga";
import { QMPCommandError } from "../src/errors.ts";
import { createFakeQGA, type FakeQGA, type FakeQGAOptions } from "../src/qga/fake-qga.ts";
import { cleanupList, recordingClient, rejection, within } from "./qga-helpers.ts";

const cleanups = cleanupList();
afterEach(() => cleanups.run());

async function fakeAgent(options: FakeQGAOptions = {}): Promise<FakeQGA> {
  const fake = await createFakeQGA(options);
  cleanups.add(() => fake.close());
  return fake;
}

function client(
  options: ConstructorParameters<typeof QGAClient>[0] = {},
): ReturnType<typeof recordingClient> {
  const made = recordingClient(options);
  cleanups.add(() => made.qga.disconnect().catch(() => {}));
  return made;
}

/** A promise the test resolves by hand, to hold a fake handler until the test says so. */
function gate(): { opened: Promise<void>; open: () => void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { opened: promise, open: () => resolve() };
}

describe("session start", () => {
  test("sends 0xFF then guest-sync-delimited, skips the agent's error for the 0xFF, and is RUNNING", async () => {
    const fake = await fakeAgent();
    const { qga, inbound } = client();
    await within(qga.connect(fake.address));
    expect(qga.runstate).toBe(Runstate.RUNNING);
    expect(fake.sentinelsReceived).toBe(1);
    expect(fake.received.map((c) => c.execute)).toEqual(["guest-sync-delimited"]);
    expect(inbound[0]).toBe(
      `{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\\uFFFD'"}}`,
    );
    expect(inbound[1]).toMatch(/^\\xff\{"return": \d+\}$/);
    await within(qga.ping());
  });

  test("skips garbage before the sentinel: junk lines, non-UTF-8 bytes, a half line", async () => {
    const garbage = Buffer.concat([
      Buffer.from('{"return": {"pid": 99}}\nnot json at all\n'),
      Buffer.from([0xc3, 0x28, 0x80, 0x0a]),
      Buffer.from('{"return": {"versi'),
    ]);
    const fake = await fakeAgent({ faults: { garbageBeforeSentinel: garbage } });
    const { qga, inbound } = client();
    await within(qga.connect(fake.address));
    expect(inbound).toContain('{"return": {"pid": 99}}');
    expect(inbound).toContain("not json at all");
    expect(inbound.some((line) => line.includes("\uFFFD"))).toBe(true);
    // The first real command gets its own reply, not a leftover.
    expect(await within(qga.executeUntyped("guest-sync", { id: 31337 }))).toBe(31337);
  });

  test("skips a stale sentinel-prefixed reply that carries another client's sync id", async () => {
    const fake = await fakeAgent({ faults: { staleSyncReply: true } });
    const { qga, inbound } = client();
    await within(qga.connect(fake.address));
    const syncReplies = inbound.filter((line) => line.startsWith("\\xff"));
    expect(syncReplies).toHaveLength(2);
    const sentId = fake.received[0]?.arguments?.id;
    expect(syncReplies[0]).not.toBe(`\\xff{"return": ${sentId}}`);
    expect(syncReplies[1]).toBe(`\\xff{"return": ${sentId}}`);
    expect((await within(qga.info())).version).toBe("7.2.22");
  });

  test("copes with every reply split into single bytes", async () => {
    const fake = await fakeAgent({ faults: { splitReplies: true } });
    const { qga } = client();
    await within(qga.connect(fake.address));
    const info = await within(qga.osinfo());
    expect(info.id).toBe("debian");
    expect(info["pretty-name"]).toBe("Debian GNU/Linux 12 (bookworm)");
  });

  test("fails with ConnectError (code QMP_ERR_QGA_SYNC) and returns to IDLE when the agent never syncs", async () => {
    const fake = await fakeAgent({ faults: { neverAnswer: ["guest-sync-delimited"] } });
    const { qga } = client({ syncTimeoutMs: 100 });
    const error = await rejection(qga.connect(fake.address));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe("QMP_ERR_QGA_SYNC");
    expect((error as ConnectError).cause).toBeInstanceOf(QGASyncError);
    expect(qga.runstate).toBe(Runstate.IDLE);
  });

  test("refuses vsock addresses with a typed error that says what to do instead", async () => {
    const qga = new QGAClient();
    const error = await rejection(qga.connect("vsock:3:1234"));
    expect(error).toBeInstanceOf(QGAVsockUnsupportedError);
    expect((error as Error).message).toContain("virtserialport");
    expect(qga.runstate).toBe(Runstate.IDLE);
  });

  test("rejects commands with StateError before connect()", async () => {
    expect(await rejection(new QGAClient().ping())).toBeInstanceOf(StateError);
  });
});

describe("commands", () => {
  test("run strictly in call order, each getting its own reply", async () => {
    const fake = await fakeAgent();
    const { qga } = client();
    await qga.connect(fake.address);
    const ids = [11, 22, 33, 44, 55];
    const results = await within(Promise.all(ids.map((id) => qga.executeUntyped("guest-sync", { id }))));
    expect(results).toEqual(ids);
    expect(fake.received.slice(1).map((c) => c.arguments?.id)).toEqual(ids);
  });

  test("an error reply rejects with QGAError carrying the agent's class and desc", async () => {
    const fake = await fakeAgent();
    const { qga } = client();
    await qga.connect(fake.address);
    const error = await rejection(qga.executeUntyped("guest-no-such-command"));
    expect(error).toBeInstanceOf(QGAError);
    expect((error as QGAError).errorClass).toBe("CommandNotFound");
    expect((error as QGAError).desc).toBe("The command guest-no-such-command has not been found");
    await within(qga.ping());
  });

  test("a timed-out command desynchronises the channel; the next one resyncs and skips the late reply", async () => {
    const fake = await fakeAgent();
    const slow = gate();
    fake.handle("guest-info", async () => {
      await slow.opened;
      return { version: "late", supported_commands: [] };
    });
    const { qga, inbound } = client();
    await qga.connect(fake.address);
    const timedOut = await rejection(qga.info({ timeoutMs: 50 }));
    expect(timedOut).toBeInstanceOf(QGATimeoutError);
    expect((timedOut as QGATimeoutError).code).toBe("QMP_ERR_QGA_TIMEOUT");
    expect(qga.desynchronized).toBe(true);
    const next = qga.executeUntyped("guest-sync", { id: 4242 });
    await within(fake.waitFor("guest-sync-delimited", 2));
    // Only now does the agent answer the old command: the late reply lands in front of the resync's reply.
    slow.open();
    expect(await within(next)).toBe(4242);
    expect(qga.desynchronized).toBe(false);
    expect(inbound).toContain('{"return": {"version": "late", "supported_commands": []}}');
    expect(fake.sentinelsReceived).toBe(2);
    expect(fake.received.map((c) => c.execute)).toEqual([
      "guest-sync-delimited",
      "guest-info",
      "guest-sync-delimited",
      "guest-sync",
    ]);
  });

  test("a command the agent never answers times out, and the client recovers", async () => {
    const fake = await fakeAgent({ faults: { neverAnswer: ["guest-get-osinfo"] } });
    const { qga } = client({ commandTimeoutMs: 50 });
    await qga.connect(fake.address);
    expect(await rejection(qga.osinfo())).toBeInstanceOf(QGATimeoutError);
    await within(qga.ping());
    expect(qga.desynchronized).toBe(false);
  });

  test("an abort in flight rejects with the reason and forces a resync; a queued abort never reaches the wire", async () => {
    const fake = await fakeAgent();
    const slow = gate();
    fake.handle("guest-info", async () => {
      await slow.opened;
      return { version: "x", supported_commands: [] };
    });
    const { qga } = client();
    await qga.connect(fake.address);
    const inFlight = new AbortController();
    const queued = new AbortController();
    const first = qga.info({ signal: inFlight.signal });
    const second = qga.executeUntyped("guest-get-host-name", undefined, { signal: queued.signal });
    await within(fake.waitFor("guest-info"));
    queued.abort(new Error("not needed"));
    inFlight.abort(new Error("user gave up"));
    expect(((await rejection(first)) as Error).message).toBe("user gave up");
    expect(((await rejection(second)) as Error).message).toBe("not needed");
    slow.open();
    await within(qga.ping());
    expect(fake.received.map((c) => c.execute)).not.toContain("guest-get-host-name");
  });

  test("sync() runs after the commands queued before it", async () => {
    const fake = await fakeAgent();
    const slow = gate();
    fake.handle("guest-info", async () => {
      await slow.opened;
      return { version: "x", supported_commands: [] };
    });
    const { qga } = client();
    await qga.connect(fake.address);
    const order: string[] = [];
    const info = qga.info().then(() => order.push("info"));
    const synced = qga.sync().then(() => order.push("sync"));
    await within(fake.waitFor("guest-info"));
    slow.open();
    await within(Promise.all([info, synced]));
    expect(order).toEqual(["info", "sync"]);
    expect(fake.received.at(-1)?.execute).toBe("guest-sync-delimited");
  });
});

describe("commands without a reply", () => {
  test("guest-shutdown is sent without waiting, and the agent leaving afterwards is not an error", async () => {
    const fake = await fakeAgent();
    const { qga } = client();
    await qga.connect(fake.address);
    const ended = qga.runstateChanged();
    await within(qga.shutdown({ mode: "powerdown" }));
    expect((await within(fake.waitFor("guest-shutdown"))).arguments).toEqual({ mode: "powerdown" });
    expect(await within(ended)).toBe(Runstate.DISCONNECTING);
    await within(qga.disconnect());
    expect(qga.runstate).toBe(Runstate.IDLE);
  });

  test("an error reply to guest-shutdown arrives unasked and is skipped by the resync before the next command", async () => {
    const fake = await fakeAgent();
    fake.handle("guest-shutdown", () => {
      throw new QMPCommandError("GenericError", "mode is invalid (valid values are: halt|powerdown|reboot");
    });
    const { qga, inbound } = client();
    await qga.connect(fake.address);
    await within(qga.executeUntyped("guest-suspend-ram"));
    await within(qga.shutdown());
    expect(await within(qga.executeUntyped("guest-sync", { id: 77 }))).toBe(77);
    expect(inbound.some((line) => line.includes("mode is invalid"))).toBe(true);
  });
});

describe("session end", () => {
  test("disconnect() rejects the running and every queued command with QGAInterruptedError", async () => {
    const fake = await fakeAgent();
    fake.handle("guest-info", () => new Promise(() => {}));
    const { qga } = client();
    await qga.connect(fake.address);
    const pending = [qga.info(), qga.ping(), qga.osinfo(), qga.sync()];
    await within(fake.waitFor("guest-info"));
    await within(qga.disconnect());
    for (const command of pending) expect(await rejection(command)).toBeInstanceOf(QGAInterruptedError);
  });

  test("the agent closing the connection rejects them too, with the close as cause", async () => {
    const fake = await fakeAgent();
    fake.handle("guest-info", (_args, ctx) => {
      ctx.disconnect();
      return ctx.noReply;
    });
    const { qga } = client();
    await qga.connect(fake.address);
    const pending = [qga.info(), qga.ping()];
    for (const command of pending) {
      const error = await rejection(command);
      expect(error).toBeInstanceOf(QGAInterruptedError);
      expect((error as QGAInterruptedError).cause).toBeInstanceOf(ConnectionClosedError);
    }
    expect(await rejection(qga.disconnect())).toBeInstanceOf(ConnectionClosedError);
  });
});
