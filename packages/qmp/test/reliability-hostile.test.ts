/**
 * Hostile input from the server side (issue 9, item 2): each case ends in a documented, typed outcome, and the
 * test process stays healthy (a fresh session on the same client object works afterwards). Inputs no fake would
 * produce come from a raw server (`hostileServer`); the 1 GiB line runs in a child process so its memory can be
 * measured on its own.
 */
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { join } from "node:path";
import { DEFAULT_MAX_BUFFERED_WRITE_BYTES } from "@qmpkit/protocol-core";
import {
  BackpressureError,
  ConnectError,
  ExecInterruptedError,
  ExecuteError,
  FrameTooLargeError,
  GreetingError,
  NegotiationError,
  ProtocolError,
  QMPClient,
  type QMPEvent,
  Runstate,
  ServerParseError,
} from "../src/index.ts";
import {
  type HostileScript,
  type HostileServer,
  hostileServer,
  rejection,
  runFixture,
  within,
} from "./reliability-helpers.ts";

const BOUND = 10_000;
const DEPTH = 1_000_000;
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

function serve(script: HostileScript): HostileServer {
  const server = hostileServer(script);
  cleanups.push(() => server.stop());
  return server;
}

function newClient(options: ConstructorParameters<typeof QMPClient>[0] = {}): QMPClient {
  const client = new QMPClient({ greetingTimeoutMs: BOUND, negotiationTimeoutMs: BOUND, ...options });
  cleanups.push(() => client.disconnect());
  return client;
}

/** A server that answers every command with `bodyFor(command)` (raw JSON members, id appended). */
function replying(bodyFor: (command: Record<string, unknown>) => string): HostileServer {
  return serve({ onCommand: (message, peer) => peer.replyRaw(message, bodyFor(message)) });
}

/** `[[[…]]]` nested `depth` levels. */
function nestedArray(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

/** The session ended with `type`: the pending command was interrupted by it, disconnect() rethrows it once. */
async function expectSessionEndedBy(
  client: QMPClient,
  pending: Promise<unknown>,
  type: typeof ProtocolError,
) {
  const error = await rejection(pending, BOUND, "the pending command");
  expect(error).toBeInstanceOf(ExecInterruptedError);
  expect((error as ExecInterruptedError).cause).toBeInstanceOf(type);
  expect(await rejection(client.disconnect(), BOUND, "disconnect")).toBe((error as Error).cause);
  expect(client.runstate).toBe(Runstate.IDLE);
  return (error as Error).cause as ProtocolError;
}

/** The same client object still works: reconnect to a well-behaved server and run a command. */
async function expectHealthy(client: QMPClient): Promise<void> {
  const good = replying(() => '"return": {"ok": true}');
  await within(client.connect(good.path), BOUND, "reconnect");
  expect(await within(client.executeUntyped("query-status"), BOUND)).toEqual({ ok: true });
  await within(client.disconnect(), BOUND, "disconnect");
  expect(client.runstate).toBe(Runstate.IDLE);
}

describe("deep nesting", () => {
  test("a reply nested 1,000,000 levels deep resolves (Bun's JSON.parse is iterative); the session goes on", async () => {
    const server = replying((m) =>
      m.execute === "deep" ? `"return": ${nestedArray(DEPTH)}` : '"return": {"after": true}',
    );
    const client = newClient();
    await within(client.connect(server.path), BOUND, "connect");
    let value = await within(client.executeUntyped("deep"), BOUND);
    let depth = 0;
    while (Array.isArray(value)) {
      depth++;
      value = value[0];
    }
    expect(depth).toBe(DEPTH);
    expect(await within(client.executeUntyped("next"), BOUND)).toEqual({ after: true });
  });

  test("an event nested 1,000,000 levels deep is delivered like any other", async () => {
    const server = replying(() => '"return": {}');
    const client = newClient();
    await within(client.connect(server.path), BOUND, "connect");
    using listener = client.listen({ names: ["DEEP"] });
    const peer = server.peers[0];
    peer?.write(
      `{"event": "DEEP", "data": {"v": ${nestedArray(DEPTH)}}, "timestamp": {"seconds": 1, "microseconds": 2}}\r\n`,
    );
    const event = (await within(listener.get(), BOUND, "the deep event")) as QMPEvent;
    expect(event.event).toBe("DEEP");
    expect(Array.isArray(event.data.v)).toBe(true);
    expect(await within(client.executeUntyped("next"), BOUND)).toEqual({});
  });

  test("a stack overflow inside JSON.parse becomes a ProtocolError that ends the session, not a crash", async () => {
    // Bun's parser does not overflow at any depth the 10 MiB limit allows, so the overflow is simulated: the
    // RangeError JSON.parse throws in engines with a recursive parser must still come out typed.
    const parse = JSON.parse;
    const spy = spyOn(JSON, "parse").mockImplementation((text: string, reviver?: never) => {
      if (text.includes("OVERFLOW")) throw new RangeError("Maximum call stack size exceeded.");
      return parse(text, reviver);
    });
    cleanups.push(async () => spy.mockRestore());
    const server = replying((m) => (m.execute === "boom" ? '"return": "OVERFLOW"' : '"return": {}'));
    const client = newClient();
    await within(client.connect(server.path), BOUND, "connect");
    const cause = await expectSessionEndedBy(client, client.executeUntyped("boom"), ProtocolError);
    expect(cause.cause).toBeInstanceOf(RangeError);
    spy.mockRestore();
    await expectHealthy(client);
  });

  test("deep wire data on every path that describes it (greeting, negotiation, id-less error) gives typed errors", async () => {
    const deep = nestedArray(DEPTH);
    const badGreeting = serve({ greeting: `{"QMP": ${deep}}\r\n` });
    const client = newClient();
    const greetingError = await rejection(client.connect(badGreeting.path), BOUND, "connect");
    expect(greetingError).toBeInstanceOf(ConnectError);
    expect((greetingError as ConnectError).cause).toBeInstanceOf(GreetingError);
    expect(client.runstate).toBe(Runstate.IDLE);

    const badNegotiation = serve({
      autoNegotiate: false,
      onCommand: (m, peer) => peer.replyRaw(m, `"weird": ${deep}`),
    });
    const negotiationError = await rejection(client.connect(badNegotiation.path), BOUND, "connect");
    expect(negotiationError).toBeInstanceOf(ConnectError);
    expect((negotiationError as ConnectError).cause).toBeInstanceOf(NegotiationError);
    expect(client.runstate).toBe(Runstate.IDLE);

    // An id-less error when no id-less command is due belongs to no command: it is QEMU's "could not parse your
    // input", and ends the session. "first" goes without an id and is answered first; "bad" (sent with an id, as
    // "first" was in flight) is still pending when the error comes.
    const idless = serve({
      onCommand: (m, peer) => {
        if (m.execute !== "bad") return;
        peer.write('{"return": {}}\r\n');
        peer.write(`{"error": ${deep}}\r\n`);
      },
    });
    await within(client.connect(idless.path), BOUND, "connect");
    const first = client.executeUntyped("first");
    first.catch(() => {});
    await expectSessionEndedBy(client, client.executeUntyped("bad"), ServerParseError);
    expect(await within(first, BOUND)).toEqual({});
    await expectHealthy(client);
  });

  test("with logging on, a deep message nobody asked for is dropped and logged, not fatal", async () => {
    const warnings: string[] = [];
    const logger = {
      enabled: true,
      debug() {},
      info() {},
      error() {},
      warn: (m: string) => warnings.push(m),
    };
    // The reply first, then the deep message: an id-less message while no id-less command is due is nobody's.
    // The next command carries an id of its own, so the deep message cannot be taken for its reply either.
    const server = serve({
      onCommand: (m, peer) => {
        peer.replyRaw(m, '"return": 7');
        if (m.execute === "x") peer.write(`{"return": ${nestedArray(DEPTH)}}\r\n`);
      },
    });
    const client = newClient({ logger });
    await within(client.connect(server.path), BOUND, "connect");
    expect(await within(client.executeUntyped("x"), BOUND)).toBe(7);
    expect(await within(client.executeRaw({ execute: "y", id: "y" }), BOUND)).toEqual({ return: 7, id: "y" });
    expect(warnings.some((w) => w.startsWith("Dropped an unexpected message"))).toBe(true);
    expect(client.runstate).toBe(Runstate.RUNNING);
  });
});

describe("bytes that are not clean JSON text", () => {
  test("invalid UTF-8 inside a string arrives as U+FFFD; the session goes on", async () => {
    const server = serve({
      onCommand: (m, peer) => {
        const head = Buffer.from(`{"return": "a`);
        const tail = Buffer.from(`b"${idMember(m.id)}}\r\n`);
        peer.write(Buffer.concat([head, Buffer.from([0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80]), tail]));
      },
    });
    const client = newClient();
    await within(client.connect(server.path), BOUND, "connect");
    const value = (await within(client.executeUntyped("utf8"), BOUND)) as string;
    expect(value.startsWith("a")).toBe(true);
    expect(value.endsWith("b")).toBe(true);
    expect(value.slice(1, -1).replaceAll("\uFFFD", "").replaceAll("(", "")).toBe("");
    expect(client.runstate).toBe(Runstate.RUNNING);
  });

  test("invalid UTF-8 outside a string is a ProtocolError that ends the session", async () => {
    const server = serve({
      onCommand: (_m, peer) => peer.write(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from("{}\r\n")])),
    });
    const client = newClient();
    await within(client.connect(server.path), BOUND, "connect");
    await expectSessionEndedBy(client, client.executeUntyped("x"), ProtocolError);
    await expectHealthy(client);
  });

  test("a raw NUL byte inside a string is a ProtocolError; an escaped \\u0000 is data", async () => {
    const server = serve({
      onCommand: (m, peer) => {
        const id = idMember(m.id);
        if (m.execute === "escaped") peer.write(`{"return": "a\\u0000b"${id}}\r\n`);
        else peer.write(Buffer.from(`{"return": "a\u0000b"${id}}\r\n`));
      },
    });
    const client = newClient();
    await within(client.connect(server.path), BOUND, "connect");
    expect(await within(client.executeUntyped("escaped"), BOUND)).toBe("a\u0000b");
    await expectSessionEndedBy(client, client.executeUntyped("raw"), ProtocolError);
    await expectHealthy(client);
  });

  test("a line of NUL bytes is a ProtocolError", async () => {
    const server = serve({
      onCommand: (_m, peer) => peer.write(Buffer.concat([Buffer.alloc(4096), Buffer.from("\r\n")])),
    });
    const client = newClient();
    await within(client.connect(server.path), BOUND, "connect");
    await expectSessionEndedBy(client, client.executeUntyped("x"), ProtocolError);
    await expectHealthy(client);
  });
});

describe("keys and numbers", () => {
  test("__proto__ and constructor keys in greeting, replies, errors and events stay data; nothing is polluted", async () => {
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const evil = '{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}';
    const server = serve({
      greeting: `{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "x", "__proto__": {"polluted": "yes"}}, "capabilities": ["oob"], "__proto__": {"polluted": "yes"}}}\r\n`,
      onCommand: (m, peer) => {
        peer.write(
          `{"event": "EVIL", "data": ${evil}, "timestamp": {"seconds": 1, "microseconds": 0}, "__proto__": {"id": "x"}}\r\n`,
        );
        if (m.execute === "fail")
          peer.replyRaw(
            m,
            `"error": {"class": "GenericError", "desc": "no", "__proto__": {"polluted": "yes"}}`,
          );
        else peer.replyRaw(m, `"return": ${evil}, "__proto__": {"return": "forged"}`);
      },
    });
    const client = newClient();
    await within(client.connect(server.path), BOUND, "connect");
    using listener = client.listen({ names: ["EVIL"] });
    const value = (await within(client.executeUntyped("evil"), BOUND)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value, "__proto__")).toBe(true);
    expect(Object.hasOwn(value, "constructor")).toBe(true);
    const failed = await rejection(client.executeUntyped("fail"), BOUND);
    expect(failed).toBeInstanceOf(ExecuteError);
    expect((failed as ExecuteError).errorClass).toBe("GenericError");
    const event = (await within(listener.get(), BOUND)) as QMPEvent;
    expect(Object.getPrototypeOf(event.data)).toBe(Object.prototype);
    expect(Object.hasOwn(event.data, "__proto__")).toBe(true);
    expect(client.greeting?.QMP.version.qemu.major).toBe(7);
    const probe: Record<string, unknown> = {};
    expect(probe.polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    expect(Object.getOwnPropertyNames(Object.getPrototypeOf(client.greeting))).not.toContain("polluted");
  });

  test("integers beyond 2^53 arrive as the nearest double (documented: JSON.parse semantics)", async () => {
    const server = replying(
      () =>
        '"return": {"u64max": 18446744073709551615, "odd": 9007199254740993, "huge": 1e400, "neg": -9223372036854775808}',
    );
    const client = newClient();
    await within(client.connect(server.path), BOUND, "connect");
    const value = (await within(client.executeUntyped("numbers"), BOUND)) as Record<string, number>;
    expect(value.u64max).toBe(2 ** 64);
    expect(value.odd).toBe(2 ** 53);
    expect(value.huge).toBe(Number.POSITIVE_INFINITY);
    expect(value.neg).toBe(-(2 ** 63));
  });

  test("a greeting with a million capabilities is accepted within the bound; oob among them is enabled", async () => {
    const caps = Array.from({ length: 1_000_000 }, (_, i) => i.toString(36));
    caps[caps.length - 1] = "oob";
    const greeting = `{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ${JSON.stringify(caps)}}}\r\n`;
    const server = serve({ greeting, onCommand: (m, peer) => peer.replyRaw(m, '"return": 1') });
    const client = newClient();
    await within(client.connect(server.path), BOUND, "connect");
    expect(client.greeting?.QMP.capabilities.length).toBe(1_000_000);
    expect(client.capabilities).toEqual(["oob"]);
    expect(await within(client.executeUntyped("x"), BOUND)).toBe(1);
  });

  test("a greeting over maxMessageBytes fails the connect with FrameTooLargeError", async () => {
    const server = serve({ greeting: `{"QMP": "${"x".repeat(2 * 1024 * 1024)}"}\r\n` });
    const client = newClient({ maxMessageBytes: 1024 * 1024 });
    const error = await rejection(client.connect(server.path), BOUND, "connect");
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).cause).toBeInstanceOf(FrameTooLargeError);
    expect(client.runstate).toBe(Runstate.IDLE);
  });
});

describe("a server that never reads", () => {
  /** Executes `pad`-sized commands until one is refused; returns the accepted promises and the refusal. */
  function fill(client: QMPClient, padBytes: number, most: number) {
    const pad = "p".repeat(padBytes);
    const accepted: Promise<unknown>[] = [];
    for (let i = 0; i < most; i++) {
      const pending = client.executeUntyped("fill", { pad, i });
      // A refused command never becomes pending: that is how the refusal shows without waiting on the others.
      pending.catch(() => {}); // examined later; marked handled so an early rejection is not reported as stray
      accepted.push(pending);
      if (client.pendingCount < accepted.length) return { accepted: accepted.slice(0, -1), refusal: pending };
    }
    return { accepted, refusal: undefined };
  }

  test("execute rejects with BackpressureError at maxBufferedWriteBytes; the session stays up and catches up once the peer reads", async () => {
    const limit = 4 * 1024 * 1024;
    const server = serve({
      onCommand: (m, peer) =>
        peer.replyRaw(m, `"return": ${JSON.stringify(m.arguments && (m.arguments as { i: number }).i)}`),
    });
    const client = newClient({ maxBufferedWriteBytes: limit });
    await within(client.connect(server.path), BOUND, "connect");
    server.peers[0]?.socket.pause();
    const { accepted, refusal } = fill(client, 256 * 1024, 1000);
    expect(refusal).toBeDefined();
    const error = await rejection(refusal as Promise<unknown>, BOUND, "the refused execute");
    expect(error).toBeInstanceOf(BackpressureError);
    expect((error as BackpressureError).code).toBe("QMP_ERR_BACKPRESSURE");
    expect((error as BackpressureError).limit).toBe(limit);
    // Nothing of the refused command was queued: the accepted ones fill the cap by at most one message.
    expect(accepted.length * 256 * 1024).toBeGreaterThanOrEqual(limit - 256 * 1024);
    expect(accepted.length * 256 * 1024).toBeLessThanOrEqual(limit);
    expect(client.runstate).toBe(Runstate.RUNNING);
    expect(client.pendingCount).toBe(accepted.length);
    server.peers[0]?.socket.resume();
    const values = await within(Promise.all(accepted), BOUND, "the accepted commands");
    expect(values).toEqual(accepted.map((_, i) => i));
    expect(await within(client.executeUntyped("fill", { pad: "", i: -1 }), BOUND)).toBe(-1);
  });

  test("under the default 64 MiB cap the refusal comes at 64 MiB; disconnect() still returns, within its 5 s grace", async () => {
    const server = serve({});
    const client = newClient();
    await within(client.connect(server.path), BOUND, "connect");
    server.peers[0]?.socket.pause();
    const size = 1024 * 1024;
    const { accepted, refusal } = fill(client, size, 200);
    const error = await rejection(refusal as Promise<unknown>, BOUND, "the refused execute");
    expect(error).toBeInstanceOf(BackpressureError);
    expect((error as BackpressureError).limit).toBe(DEFAULT_MAX_BUFFERED_WRITE_BYTES);
    expect(accepted.length * size).toBeGreaterThanOrEqual(DEFAULT_MAX_BUFFERED_WRITE_BYTES - size);
    expect(accepted.length * size).toBeLessThanOrEqual(DEFAULT_MAX_BUFFERED_WRITE_BYTES + size);
    // The peer never reads: the clean close cannot flush, so it gives up after the grace period and resets.
    await within(client.disconnect(), BOUND, "disconnect");
    expect(client.runstate).toBe(Runstate.IDLE);
    for (const pending of accepted) {
      expect(await rejection(pending, BOUND, "an accepted command")).toBeInstanceOf(ExecInterruptedError);
    }
  }, 20_000); // the 5 s close grace is part of what is measured
});

describe("a line that never ends", () => {
  test("a 1 GiB reply announced and never ended is stopped at maxMessageBytes; RSS stays bounded (child process)", async () => {
    const fixture = join(import.meta.dir, "reliability-huge-line-fixture.ts");
    const { exitCode, stderr, report } = await runFixture(fixture, [], 60_000);
    expect(stderr).toBe("");
    expect(exitCode).toBe(0);
    expect(report).toBeDefined();
    const r = report as Record<string, unknown>;
    expect(r.errorName).toBe("ExecInterruptedError");
    expect(r.causeIsFrameTooLarge).toBe(true);
    expect(r.disconnectRethrewCause).toBe(true);
    // The server got 10 MiB (the limit) plus what the socket buffers held in, of the 1,024 MiB it announced.
    expect(r.streamedMiB as number).toBeLessThan(32);
    // Memory held for the line is bounded by the limit: growth under 48 MiB over a 10 MiB limit.
    expect((r.rssPeakMiB as number) - (r.rssStartMiB as number)).toBeLessThan(48);
    expect(r.after).toEqual({});
  });
});

/** The `, "id": …` member of a hand-written reply: absent when the command was sent without an id. */
function idMember(id: unknown): string {
  return id === undefined ? "" : `, "id": ${JSON.stringify(id)}`;
}
