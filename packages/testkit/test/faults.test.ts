/**
 * Every fault helper, driving @qmpkit/qmp through it: the client must end with its documented outcome (a clear,
 * typed error; back to IDLE; or carrying on when the fault is harmless) and never hang (every wait is bounded).
 */
import { afterEach, describe, expect, test } from "bun:test";
import {
  BadReplyError,
  ConnectError,
  ConnectionClosedError,
  connect,
  ExecInterruptedError,
  FrameTooLargeError,
  GreetingError,
  ProtocolError,
  type QMPClient,
  Runstate,
  ServerParseError,
  TimeoutError,
} from "@qmpkit/qmp";
import { createFakeQemu, type FakeQemu, type FakeQemuOptions, type Fault, faults } from "../src/index.ts";
import { RawPeer, within } from "./helpers.ts";

const BOUND = 5000;
let fake: FakeQemu | undefined;
let client: QMPClient | undefined;

afterEach(async () => {
  await client?.disconnect().catch(() => {});
  client = undefined;
  await fake?.close();
  fake = undefined;
});

async function start(fault: Fault, options: FakeQemuOptions = {}): Promise<FakeQemu> {
  fake = await createFakeQemu({ ...options, faults: [fault] });
  return fake;
}

/** Settles `promise` and returns what it rejected with (fails if it resolved). */
async function rejection(promise: Promise<unknown>, what = "operation"): Promise<unknown> {
  const outcome = await within(
    promise.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    ),
    BOUND,
    what,
  );
  if (outcome.ok)
    throw new Error(`${what} resolved with ${JSON.stringify(outcome.value)}; expected a rejection`);
  return outcome.error;
}

/** A failed connect: ConnectError "Failed to establish session" whose cause is `causeType`. */
async function expectSessionFailure(
  address: string,
  causeType: abstract new (...args: never[]) => Error,
  options: Parameters<typeof connect>[1] = {},
): Promise<Error> {
  const error = await rejection(connect(address, options), "connect");
  expect(error).toBeInstanceOf(ConnectError);
  expect((error as ConnectError).message).toStartWith("Failed to establish session");
  expect((error as ConnectError).cause).toBeInstanceOf(causeType);
  return (error as ConnectError).cause as Error;
}

/** A session ended by the server: the pending call rejects with ExecInterruptedError whose cause disconnect() rethrows. */
async function expectInterrupted(pending: Promise<unknown>, c: QMPClient): Promise<unknown> {
  const error = await rejection(pending, "pending execute");
  expect(error).toBeInstanceOf(ExecInterruptedError);
  const cause = (error as ExecInterruptedError).cause;
  const thrown = await rejection(c.disconnect(), "disconnect");
  expect(thrown).toBe(cause);
  expect(c.runstate).toBe(Runstate.IDLE);
  return cause;
}

describe("greeting faults", () => {
  test("noGreeting: connect fails with a greeting TimeoutError, client IDLE", async () => {
    const f = await start(faults.noGreeting());
    const cause = await expectSessionFailure(f.address, TimeoutError, { greetingTimeoutMs: 100 });
    expect((cause as TimeoutError).code).toBe("QMP_ERR_GREETING_TIMEOUT");
  });

  test("slowGreeting: a client that waits long enough connects; an impatient one times out", async () => {
    const f = await start(faults.slowGreeting(300));
    await expectSessionFailure(f.address, TimeoutError, { greetingTimeoutMs: 20 });
    client = await within(connect(f.address, { greetingTimeoutMs: 5000 }), BOUND);
    expect((await client.execute("query-status")).status).toBe("running");
  });

  test("malformedGreeting: ConnectError caused by GreetingError", async () => {
    const f = await start(faults.malformedGreeting());
    await expectSessionFailure(f.address, GreetingError);
  });

  test("garbage before the greeting: the garbage is read as the greeting and rejected", async () => {
    const f = await start(faults.garbage("not json at all\r\n", "before-greeting"));
    await expectSessionFailure(f.address, ProtocolError);
  });
});

describe("reply faults", () => {
  test("garbage after negotiation: undecodable line ends the session with a ProtocolError", async () => {
    const f = await start(faults.garbage("}{ garbage\r\n", { instead: "query-status" }));
    client = await within(connect(f.address), BOUND);
    const cause = await expectInterrupted(client.execute("query-status"), client);
    expect(cause).toBeInstanceOf(ProtocolError);
  });

  test("splitReplies: one byte per write, and the client still reads greeting, replies and events", async () => {
    const f = await start(faults.splitReplies());
    const peer = await RawPeer.connect(f.address);
    await peer.waitLines(1);
    // Without the fault the greeting (~150 bytes) arrives in one chunk.
    expect(peer.chunks.length).toBeGreaterThan(50);
    peer.end();
    client = await within(connect(f.address), BOUND);
    using stops = client.listen({ names: ["STOP"] });
    await within(client.execute("stop"), BOUND);
    expect(stops.empty()).toBe(false);
    expect(await within(client.execute("query-status"), BOUND)).toEqual({
      status: "paused",
      singlestep: false,
      running: false,
    });
  });

  test("hugeReply over the client's limit: a clean FrameTooLargeError (a ProtocolError), IDLE after", async () => {
    const f = await start(faults.hugeReply("query-name", 50));
    client = await within(connect(f.address), BOUND);
    const cause = await expectInterrupted(client.execute("query-name"), client);
    expect(cause).toBeInstanceOf(FrameTooLargeError);
    expect(cause).toBeInstanceOf(ProtocolError);
  });

  test("hugeReply under the limit: a 5 MiB reply arrives whole", async () => {
    const f = await start(faults.hugeReply("query-name", 5));
    client = await within(connect(f.address), BOUND);
    const value = (await within(client.executeUntyped("query-name"), BOUND)) as string;
    expect(value.length).toBe(5 * 1024 * 1024);
  });

  test("closeAfterBytes inside the greeting: connect fails, IDLE", async () => {
    const f = await start(faults.closeAfterBytes(40));
    const error = await rejection(connect(f.address), "connect");
    expect(error).toBeInstanceOf(ConnectError);
  });

  test("closeAfterBytes mid-reply: the command is interrupted; the half line is a ProtocolError", async () => {
    // Greeting and negotiation reply fit in 200 bytes; the query-commands reply is cut.
    const f = await start(faults.closeAfterBytes(200));
    client = await within(connect(f.address), BOUND);
    const cause = await expectInterrupted(client.execute("query-commands"), client);
    expect(cause).toBeInstanceOf(ProtocolError);
  });

  test("closeAfterBytes at a message boundary: the command is interrupted by ConnectionClosedError", async () => {
    // Measure the session's bytes on a plain fake: greeting plus the reply to the client's qmp_capabilities.
    const plain = await createFakeQemu();
    const peer = await RawPeer.connect(plain.address);
    const greeting = (await peer.waitLines(1))[0] as string;
    peer.end();
    const probe = await within(connect(plain.address), BOUND);
    const capsId = (plain.received.at(-1)?.message as { id?: string } | undefined)?.id;
    await probe.disconnect();
    await plain.close();
    const capsIdMember = capsId === undefined ? "" : `, "id": "${capsId}"`;
    const sessionBytes = Buffer.byteLength(greeting) + Buffer.byteLength(`{"return": {}${capsIdMember}}\r\n`);
    const f = await start(faults.closeAfterBytes(sessionBytes));
    client = await within(connect(f.address), BOUND);
    const cause = await expectInterrupted(client.execute("query-status"), client);
    expect(cause).toBeInstanceOf(ConnectionClosedError);
  });

  test("closeAfterBytes(0): the connection drops at once and does not hold the one-client monitor", async () => {
    fake = await createFakeQemu();
    fake.inject(faults.closeAfterBytes(0));
    const error = await rejection(connect(fake.address), "connect");
    expect(error).toBeInstanceOf(ConnectError);
    client = await within(connect(fake.address), BOUND);
    expect((await client.execute("query-status")).status).toBe("running");
  });

  test("closeMidMessage: half a reply then close interrupts the command with a ProtocolError", async () => {
    const f = await start(faults.closeMidMessage("query-status"));
    client = await within(connect(f.address), BOUND);
    const cause = await expectInterrupted(client.execute("query-status"), client);
    // The client reads the unterminated half line at EOF and reports it as undecodable.
    expect(cause).toBeInstanceOf(ProtocolError);
  });

  test("reset: the connection drops instead of a reply; the command is interrupted", async () => {
    const f = await start(faults.reset("query-status"));
    client = await within(connect(f.address), BOUND);
    const cause = await expectInterrupted(client.execute("query-status"), client);
    expect(cause).toBeInstanceOf(Error);
  });

  test("wrongId: the reply is dropped, the command times out, the session carries on", async () => {
    const f = await start(faults.wrongId("query-kvm"));
    client = await within(connect(f.address), BOUND);
    const error = await rejection(client.execute("query-kvm", undefined, { timeoutMs: 100 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(await within(client.execute("query-status"), BOUND)).toMatchObject({ status: "running" });
    expect(client.runstate).toBe(Runstate.RUNNING);
  });

  test("missingId on a success: dropped, the command times out, the session carries on", async () => {
    const f = await start(faults.missingId("query-kvm"));
    client = await within(connect(f.address), BOUND);
    // Alone, a command goes without an id and the fault changes nothing: query-kvm is sent second, with an id.
    const first = client.execute("query-status");
    const error = await rejection(client.execute("query-kvm", undefined, { timeoutMs: 100 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((await within(first, BOUND)).running).toBe(true);
    expect((await within(client.execute("query-status"), BOUND)).running).toBe(true);
  });

  test("missingId on an error: an id-less error is QEMU's parse-error signal and ends the session", async () => {
    const f = await start(faults.missingId("no-such-command"));
    client = await within(connect(f.address), BOUND);
    // Sent second, with an id; when its error comes without one, no id-less reply is due any more.
    const first = client.execute("query-status");
    const cause = await expectInterrupted(client.executeUntyped("no-such-command"), client);
    expect(cause).toBeInstanceOf(ServerParseError);
    expect((await within(first, BOUND)).running).toBe(true);
  });

  test("unsolicitedReply: dropped, later commands unaffected", async () => {
    const f = await start(faults.unsolicitedReply({ surprise: true }));
    client = await within(connect(f.address), BOUND);
    expect((await within(client.execute("query-status"), BOUND)).status).toBe("running");
    expect(await within(client.execute("query-kvm"), BOUND)).toEqual({ enabled: false, present: true });
  });

  test("duplicateReply: the first copy resolves the command, the second is dropped", async () => {
    const f = await start(faults.duplicateReply("query-kvm"));
    client = await within(connect(f.address), BOUND);
    expect(await within(client.execute("query-kvm"), BOUND)).toEqual({ enabled: false, present: true });
    expect((await within(client.execute("query-status"), BOUND)).status).toBe("running");
  });

  test("delay: a per-command timeout fires; the late reply is dropped quietly; the session carries on", async () => {
    const f = await start(faults.delay("query-kvm", 300));
    client = await within(connect(f.address), BOUND);
    const error = await rejection(client.execute("query-kvm", undefined, { timeoutMs: 30 }));
    expect(error).toBeInstanceOf(TimeoutError);
    // In-band commands run one at a time (as in QEMU): this one waits behind the delayed one, then succeeds.
    expect((await within(client.execute("query-status"), BOUND)).status).toBe("running");
    expect(client.runstate).toBe(Runstate.RUNNING);
  });

  test("delay on in-band commands lets an exec-oob reply overtake", async () => {
    const f = await start(faults.delay("query-status", 200));
    client = await within(connect(f.address), BOUND);
    const order: string[] = [];
    const inband = client.execute("query-status").then(() => order.push("query-status"));
    const oob = client
      .executeUntyped("query-yank", undefined, { oob: true })
      .then(() => order.push("query-yank"));
    await within(Promise.all([inband, oob]), BOUND);
    expect(order).toEqual(["query-yank", "query-status"]);
  });

  test("a reply with neither return nor error is a BadReplyError for that command only", async () => {
    const f = await start({
      name: "emptyReply",
      reply: (reply) =>
        reply.command === "query-kvm"
          ? { write: [reply.id === undefined ? "{}\r\n" : `{"id": ${JSON.stringify(reply.id)}}\r\n`] }
          : undefined,
    });
    client = await within(connect(f.address), BOUND);
    expect(await rejection(client.execute("query-kvm"))).toBeInstanceOf(BadReplyError);
    expect((await within(client.execute("query-status"), BOUND)).status).toBe("running");
  });
});

describe("event faults", () => {
  test("eventFlood as fast as possible: every event reaches a listener, replies are not blocked", async () => {
    const f = await start(faults.eventFlood({ event: "FLOOD", count: 20_000, trigger: "cont" }));
    client = await within(connect(f.address), BOUND);
    using listener = client.listen({ names: ["FLOOD"], highWaterMark: 100_000 });
    await within(client.execute("cont"), BOUND);
    expect((await within(client.execute("query-status"), BOUND)).status).toBe("running");
    let last = -1;
    for (let i = 0; i < 20_000; i++) {
      const event = await within(listener.get(), BOUND, `event ${i}`);
      last = (event.data as { n: number }).n;
      expect(last).toBe(i);
    }
    expect(listener.dropped).toBe(0);
  });

  test("eventFlood at a rate: events arrive in order while commands keep working", async () => {
    const f = await start(
      faults.eventFlood({ event: "TICK", count: 200, ratePerSec: 10_000, trigger: "cont" }),
    );
    client = await within(connect(f.address), BOUND);
    using listener = client.listen({ names: ["TICK"] });
    await within(client.execute("cont"), BOUND);
    for (let i = 0; i < 200; i++) {
      if (i % 50 === 0) expect((await within(client.execute("query-kvm"), BOUND)).present).toBe(true);
      expect(((await within(listener.get(), BOUND)).data as { n: number }).n).toBe(i);
    }
  });

  test("eventFlood into a listener nobody reads: drops are counted, replies still arrive", async () => {
    const f = await start(faults.eventFlood({ event: "FLOOD", count: 5000, trigger: "cont" }));
    client = await within(connect(f.address), BOUND);
    using listener = client.listen({ names: ["FLOOD"], highWaterMark: 10 });
    using all = client.listen({ names: ["FLOOD"], highWaterMark: 10_000 });
    await within(client.execute("cont"), BOUND);
    for (let i = 0; i < 5000; i++) await within(all.get(), BOUND);
    expect((await within(client.execute("query-status"), BOUND)).status).toBe("running");
    expect(listener.dropped).toBe(4990);
  });
});

describe("faults compose and target one connection", () => {
  test("delay + splitReplies together still deliver correct replies", async () => {
    fake = await createFakeQemu({ faults: [faults.delay("*", 5), faults.splitReplies()] });
    client = await within(connect(fake.address), BOUND);
    expect(await within(client.execute("query-kvm"), BOUND)).toEqual({ enabled: false, present: true });
  });

  test("inject() applies to the next connection only", async () => {
    fake = await createFakeQemu();
    fake.inject(faults.noGreeting());
    await expectSessionFailure(fake.address, TimeoutError, { greetingTimeoutMs: 100 });
    client = await within(connect(fake.address), BOUND);
    expect((await client.execute("query-status")).running).toBe(true);
  });
});
