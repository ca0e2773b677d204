// Commands against scripted servers: id matching, reply faults, timeouts, aborts, raw and prebuilt messages.

import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  BadReplyError,
  ExecInterruptedError,
  ExecuteError,
  FdPassingError,
  FrameTooLargeError,
  ProtocolError,
  QMPClient,
  type QMPClientOptions,
  QMPValidationError,
  Runstate,
  ServerParseError,
  StateError,
  TimeoutError,
  UsageError,
} from "../src/index.ts";
import {
  GREETING,
  type Json,
  type ScriptOptions,
  type ScriptPeer,
  scriptServer,
} from "./helpers/script-server.ts";
import { rejection, within } from "./helpers/within.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

/** A connected client on a scripted server. */
async function setup(script: ScriptOptions = {}, options: QMPClientOptions = {}) {
  const server = scriptServer(script);
  cleanups.push(() => server.stop());
  const client = new QMPClient(options);
  cleanups.push(() => client.disconnect());
  await within(client.connect(server.path));
  const peer = await server.peer();
  return { server, client, peer };
}

/** A script that records commands and answers none; the test answers through `peer`. */
const silent: ScriptOptions = { onCommand: () => {} };

describe("ids", () => {
  test("are left out while nothing else is in flight, negotiation included: QEMU answers in order", async () => {
    const { client, server } = await setup();
    await client.execute("query-status");
    await client.execute("query-status");
    for (const sent of await server.commands(2)) expect(sent).not.toHaveProperty("id");
    const negotiation = (await server.peer()).received[0];
    expect(negotiation?.execute).toBe("qmp_capabilities");
    expect(negotiation).not.toHaveProperty("id");
  });

  test("a second greeting is never a reply: not during negotiation, not to a command sent without an id", async () => {
    // Real QEMU 7.2 does this now and then to a client that connects right after another one left (a readiness
    // probe): the greeting meant for the first connection arrives on the second as well.
    const greeting = `${JSON.stringify(GREETING)}\r\n`;
    const { client, server, peer } = await setup({
      greeting: greeting + greeting,
      onCommand: () => {},
    });
    expect(client.greeting).toEqual(GREETING as never);
    const pending = client.execute("query-status");
    const [sent] = await server.commands(1);
    expect(sent).not.toHaveProperty("id");
    peer.send(GREETING);
    peer.send({ return: { status: "running", running: true, singlestep: false } });
    expect((await within(pending)).status).toBe("running");
  });

  test("an event ahead of the greeting is delivered, and the greeting still read", async () => {
    // Seen on real QEMU 7.2 in CI: the RESUME of the VM's start, raised before any client connected, reached the
    // first client before its greeting.
    const resume = '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}\r\n';
    const server = scriptServer({ greeting: `${resume}${JSON.stringify(GREETING)}\r\n` });
    cleanups.push(() => server.stop());
    const client = new QMPClient();
    cleanups.push(() => client.disconnect());
    const events = client.listen();
    await within(client.connect(server.path));
    expect(client.greeting).toEqual(GREETING as never);
    expect((await within(events.get())).event).toBe("RESUME");
    expect(await within(client.execute("query-status"))).toBeDefined();
  });

  test("an abandoned id-less command keeps later ones on ids until its late reply came; the log names both", async () => {
    const debug: string[] = [];
    const logger = { enabled: true, debug: (m: string) => debug.push(m), info() {}, warn() {}, error() {} };
    const { client, server, peer } = await setup(silent, { logger });
    const slow = client.executeUntyped("slow", undefined, { timeoutMs: 1 });
    expect(await rejection(slow)).toBeInstanceOf(TimeoutError);
    // Its reply is still due: an id-less reply now would be its, so the next command needs an id.
    const next = client.executeUntyped("next");
    const [sentSlow, sentNext] = await server.commands(2);
    expect(sentSlow).not.toHaveProperty("id");
    expect(sentNext?.id).toBeNumber();
    peer.send({ return: { late: true } });
    peer.send({ return: { mine: true }, id: sentNext?.id });
    expect(await within(next)).toEqual({ mine: true });
    expect(
      debug.some((m) =>
        /^Dropped the late reply of abandoned command "slow" \(#\d+, sent without id\)$/.test(m),
      ),
    ).toBe(true);
    // Nothing is due any more: the next command goes without an id again, and the log says whose reply it is.
    const last = client.executeUntyped("last");
    const [, , sentLast] = await server.commands(3);
    expect(sentLast).not.toHaveProperty("id");
    peer.send({ return: { last: true } });
    expect(await within(last)).toEqual({ last: true });
    expect(debug.some((m) => /^The reply above answers "last" \(#\d+, sent without id\)$/.test(m))).toBe(
      true,
    );
  });

  test("are generated as numbers, unique, and never reused, once commands overlap", async () => {
    const { client, server } = await setup();
    await Promise.all([1, 2, 3, 4].map(() => client.execute("query-status")));
    const sent = await server.commands(4);
    expect(sent[0]).not.toHaveProperty("id");
    const ids = sent.slice(1).map((m) => m.id);
    for (const id of ids) expect(Number.isSafeInteger(id)).toBe(true);
    expect(new Set(ids).size).toBe(3);
  });

  test("replies are matched by id, in any order", async () => {
    const { client, server, peer } = await setup(silent);
    const results = [1, 2, 3].map((n) => client.executeUntyped("echo", { n }));
    const sent = await server.commands(3);
    for (const message of [...sent].reverse()) {
      peer.send({ return: { n: (message.arguments as Json).n }, id: message.id });
    }
    expect(await within(Promise.all(results))).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  test("an oob reply overtakes an in-band one that was sent earlier", async () => {
    const { client, server, peer } = await setup(silent);
    const order: string[] = [];
    const slow = client.executeUntyped("slow").then(() => order.push("slow"));
    const fast = client.executeUntyped("x-oob-test", {}, { oob: true }).then(() => order.push("oob"));
    const [inBand, oob] = await server.commands(2);
    expect(oob).toHaveProperty("exec-oob", "x-oob-test");
    expect(oob).not.toHaveProperty("execute");
    peer.send({ return: {}, id: oob?.id });
    await within(fast);
    peer.send({ return: {}, id: inBand?.id });
    await within(slow);
    expect(order).toEqual(["oob", "slow"]);
  });

  test("oob without negotiated oob is a UsageError and nothing is sent", async () => {
    const { client, peer } = await setup({}, { oob: false });
    const error = await rejection(client.executeUntyped("x", {}, { oob: true }));
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).code).toBe("QMP_ERR_OOB_NOT_ENABLED");
    await client.execute("query-status");
    expect(peer.received.map((m) => m.execute ?? m["exec-oob"])).toEqual([
      "qmp_capabilities",
      "query-status",
    ]);
  });

  test("a reply with an unknown id is logged, dropped, and the session goes on", async () => {
    const warnings: string[] = [];
    const logger = {
      enabled: true,
      debug() {},
      info() {},
      warn: (m: string) => warnings.push(m),
      error() {},
    };
    const { client, server, peer } = await setup(silent, { logger });
    const pending = client.executeUntyped("query-status");
    const [sent] = await server.commands(1);
    peer.send({ return: { stray: true }, id: "nobody-sent-this" });
    peer.send({ return: { mine: true }, id: sent?.id });
    expect(await within(pending)).toEqual({ mine: true });
    expect(client.runstate).toBe(Runstate.RUNNING);
    expect(warnings).toEqual(['Dropped a reply with unknown id "nobody-sent-this"']);
  });

  test("a reply whose id only resembles a generated one (its text, a fraction of it) matches nothing", async () => {
    const { client, server, peer } = await setup(silent);
    const blocker = client.executeUntyped("query-status");
    const pending = client.executeUntyped("query-status");
    const [, sent] = await server.commands(2);
    const seq = sent?.id as number;
    expect(seq).toBeNumber();
    peer.send({ return: { wrong: 1 }, id: String(seq) });
    peer.send({ return: { wrong: 2 }, id: seq + 0.5 });
    peer.send({ return: { right: true }, id: seq });
    expect(await within(pending)).toEqual({ right: true });
    peer.send({ return: { first: true } });
    expect(await within(blocker)).toEqual({ first: true });
  });
});

describe("reply faults", () => {
  test("an error without id while no id-less command is pending ends the session with ServerParseError", async () => {
    const { client, server, peer } = await setup(silent);
    // The first goes without an id (nothing else in flight), the second with one; once the first is answered,
    // no command owns an id-less reply.
    const first = client.execute("query-status");
    const pending = client.execute("query-status");
    const [sentFirst, sentSecond] = await server.commands(2);
    expect(sentFirst).not.toHaveProperty("id");
    expect(sentSecond?.id).toBeNumber();
    peer.send({ return: { status: "running", running: true, singlestep: false } });
    await within(first);
    peer.send({ error: { class: "GenericError", desc: "JSON parse error, invalid keyword 'x'" } });
    const interrupted = await rejection(pending);
    expect(interrupted).toBeInstanceOf(ExecInterruptedError);
    expect((interrupted as ExecInterruptedError).cause).toBeInstanceOf(ServerParseError);
    const thrown = await rejection(client.disconnect());
    expect(thrown).toBeInstanceOf(ServerParseError);
    expect((thrown as ServerParseError).code).toBe("QMP_ERR_SERVER_PARSE");
    expect((thrown as ServerParseError).message).toContain("invalid keyword");
    expect(client.runstate).toBe(Runstate.IDLE);
  });

  test("an error without id goes to the pending id-less raw command", async () => {
    const { client, server, peer } = await setup(silent);
    const raw = client.executeRaw({ execute: "bogus" });
    const [sent] = await server.commands(1);
    expect(sent).not.toHaveProperty("id");
    peer.send({ error: { class: "CommandNotFound", desc: "The command bogus has not been found" } });
    expect(await within(raw)).toEqual({
      error: { class: "CommandNotFound", desc: "The command bogus has not been found" },
    });
    expect(client.runstate).toBe(Runstate.RUNNING);
  });

  test("a reply with neither return nor error rejects that command with BadReplyError", async () => {
    const { client, server, peer } = await setup(silent);
    const pending = client.executeUntyped("odd", { secret: "hunter2" });
    const [sent] = await server.commands(1);
    peer.send({ id: sent?.id, unexpected: 1 });
    const error = (await rejection(pending)) as BadReplyError;
    expect(error).toBeInstanceOf(BadReplyError);
    expect(error.code).toBe("QMP_ERR_BAD_REPLY");
    expect(error.reply).toEqual({ id: sent?.id, unexpected: 1 });
    expect(JSON.stringify(error.command)).not.toContain("hunter2");
    expect(client.runstate).toBe(Runstate.RUNNING);
  });

  test("a malformed error member is a BadReplyError", async () => {
    const { client, server, peer } = await setup(silent);
    const pending = client.execute("query-status");
    const [sent] = await server.commands(1);
    peer.send({ error: "boom", id: sent?.id });
    expect(await rejection(pending)).toBeInstanceOf(BadReplyError);
  });

  test("ExecuteError carries class, desc, the sent command (arguments hidden), the reply and the id", async () => {
    const { client, server, peer } = await setup(silent);
    const pending = client.execute("change-vnc-password", { password: "hunter2" });
    const [sent] = await server.commands(1);
    const reply = { error: { class: "GenericError", desc: "Could not set password" }, id: sent?.id };
    peer.send(reply);
    const error = (await rejection(pending)) as ExecuteError;
    expect(error).toBeInstanceOf(ExecuteError);
    expect(error.code).toBe("QMP_ERR_EXECUTE");
    expect(error.message).toBe("Could not set password");
    expect(error.errorClass).toBe("GenericError");
    expect(error.desc).toBe("Could not set password");
    expect(error.reply).toEqual(reply);
    expect(error.id).toBe(sent?.id);
    expect(error.command.execute).toBe("change-vnc-password");
    expect(error.command.arguments).toEqual({ password: "hunter2" });
    expect(Object.keys(error.command)).not.toContain("arguments");
    expect(Bun.inspect(error)).not.toContain("hunter2");
    expect(JSON.stringify(error.command)).not.toContain("hunter2");
  });

  test("a line that is not JSON ends the session with a ProtocolError", async () => {
    const { client, server, peer } = await setup(silent);
    const pending = client.execute("query-status");
    await server.commands(1);
    peer.send("{not json\r\n");
    expect(await rejection(pending)).toBeInstanceOf(ExecInterruptedError);
    expect(await rejection(client.disconnect())).toBeInstanceOf(ProtocolError);
  });
});

describe("timeouts and aborts", () => {
  test("a command never answered times out with TimeoutError(QMP_ERR_TIMEOUT); its late reply is dropped quietly", async () => {
    const warnings: string[] = [];
    const logger = {
      enabled: true,
      debug() {},
      info() {},
      warn: (m: string) => warnings.push(m),
      error: (m: string) => warnings.push(m),
    };
    const { client, server, peer } = await setup(silent, { logger });
    const error = await rejection(client.execute("query-status", {}, { timeoutMs: 30 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe("QMP_ERR_TIMEOUT");
    expect(client.pendingCount).toBe(0);
    const [sent] = await server.commands(1);
    peer.send({ return: { late: true }, id: sent?.id });
    // A later command's reply shows the late one was processed (and dropped) first.
    const next = client.executeUntyped("query-status");
    const [, second] = await server.commands(2);
    peer.send({ return: { next: true }, id: second?.id });
    expect(await within(next)).toEqual({ next: true });
    expect(warnings).toEqual([]);
    expect(client.runstate).toBe(Runstate.RUNNING);
  });

  test("an already aborted signal rejects with its reason and sends nothing", async () => {
    const { client, peer } = await setup();
    const reason = new Error("not wanted");
    const error = await rejection(client.execute("query-status", {}, { signal: AbortSignal.abort(reason) }));
    expect(error).toBe(reason);
    expect(peer.received).toHaveLength(1);
  });

  test("an abort in flight rejects at once with the reason; the session goes on", async () => {
    const { client, server, peer } = await setup(silent);
    const controller = new AbortController();
    const pending = client.execute("query-status", {}, { signal: controller.signal });
    const [sent] = await server.commands(1);
    const reason = new DOMException("user gave up", "AbortError");
    controller.abort(reason);
    expect(await rejection(pending)).toBe(reason);
    peer.send({ return: {}, id: sent?.id });
    const next = client.executeUntyped("query-status");
    const [, second] = await server.commands(2);
    peer.send({ return: { ok: 1 }, id: second?.id });
    expect(await within(next)).toEqual({ ok: 1 });
  });

  test("a reply before the timeout resolves and releases the timer and the abort listener", async () => {
    const { client } = await setup();
    const controller = new AbortController();
    expect(
      await client.executeUntyped("query-status", {}, { signal: controller.signal, timeoutMs: 60_000 }),
    ).toEqual({});
    // Aborting afterwards must not reach the settled command (it would reject an already-settled promise).
    controller.abort(new Error("late"));
    expect(client.pendingCount).toBe(0);
  });
});

describe("executeRaw and executeMsg", () => {
  test("executeRaw returns the whole reply, error replies included, with the caller's id", async () => {
    const { client } = await setup({
      onCommand: (m, peer) =>
        peer.send(
          m.execute === "bad"
            ? { error: { class: "GenericError", desc: "nope" }, id: m.id }
            : { return: { v: 1 }, id: m.id },
        ),
    });
    expect(await client.executeRaw({ execute: "good", id: "my-id" })).toEqual({
      return: { v: 1 },
      id: "my-id",
    });
    expect(await client.executeRaw({ execute: "bad", id: "my-id" })).toEqual({
      error: { class: "GenericError", desc: "nope" },
      id: "my-id",
    });
  });

  test("executeRaw rejects ids that are not strings (numbers are the generated ones) and ids in flight", async () => {
    const { client, peer } = await setup(silent);
    const numeric = await rejection(client.executeRaw({ execute: "x", id: 7 } as never));
    expect(numeric).toBeInstanceOf(UsageError);
    expect((numeric as UsageError).code).toBe("QMP_ERR_INVALID_MESSAGE");
    const first = client.executeRaw({ execute: "x", id: "dup" });
    const duplicate = await rejection(client.executeRaw({ execute: "y", id: "dup" }));
    expect((duplicate as UsageError).code).toBe("QMP_ERR_DUPLICATE_ID");
    expect((duplicate as UsageError).message).toContain("already in flight");
    peer.send({ return: {}, id: "dup" });
    expect(await within(first)).toEqual({ return: {}, id: "dup" });
    // Once answered, the id may be used again.
    const again = client.executeRaw({ execute: "x", id: "dup" });
    peer.send({ return: { again: true }, id: "dup" });
    expect(await within(again)).toEqual({ return: { again: true }, id: "dup" });
  });

  test("a second id-less raw command in flight goes out with an id, and resolves with a reply without it", async () => {
    const { client, server, peer } = await setup(silent);
    const first = client.executeRaw({ execute: "x" });
    const second = client.executeRaw({ execute: "y" });
    const [x, y] = await server.commands(2);
    expect(x).not.toHaveProperty("id");
    expect(y?.id).toBeNumber();
    peer.send({ return: { x: 1 } });
    peer.send({ return: { y: 1 }, id: y?.id });
    expect(await within(first)).toEqual({ return: { x: 1 } });
    expect(await within(second)).toEqual({ return: { y: 1 } });
  });

  test("messages without execute/exec-oob, or with both, are rejected", async () => {
    const { client } = await setup();
    for (const bad of [
      {},
      { execute: "a", "exec-oob": "b" },
      { execute: 1 },
      { execute: "a", arguments: [] },
    ]) {
      const error = await rejection(client.executeMsg(bad as never));
      expect((error as UsageError).code).toBe("QMP_ERR_INVALID_MESSAGE");
    }
  });

  test("executeMsg does not modify the caller's message, sends it without an id when alone, resolves with return", async () => {
    const { client, server } = await setup({
      onCommand: (m, peer) => peer.send({ return: { echoed: m.arguments }, id: m.id }),
    });
    const message = Object.freeze({ execute: "echo", arguments: Object.freeze({ a: 1 }) });
    expect(await client.executeMsg(message)).toEqual({ echoed: { a: 1 } });
    expect(message).toEqual({ execute: "echo", arguments: { a: 1 } });
    const [sent] = await server.commands(1);
    expect(sent).not.toHaveProperty("id");
  });

  test("executeMsg keeps a caller-chosen id and throws ExecuteError on error replies", async () => {
    const { client } = await setup({
      onCommand: (m, peer) => peer.send({ error: { class: "GenericError", desc: `no ${m.id}` }, id: m.id }),
    });
    const error = (await rejection(client.executeMsg({ execute: "x", id: "chosen" }))) as ExecuteError;
    expect(error).toBeInstanceOf(ExecuteError);
    expect(error.id).toBe("chosen");
    expect(error.message).toBe("no chosen");
  });

  test("a __proto__ key in a prebuilt message or a reply stays data and pollutes nothing", async () => {
    const { client, server } = await setup({
      onCommand: (m, peer) => peer.send(`{"return": {"__proto__": {"polluted": true}}${idMember(m.id)}}\n`),
    });
    const message = JSON.parse('{"execute": "x", "arguments": {"__proto__": {"polluted": true}}}');
    const result = (await client.executeMsg(message)) as Record<string, unknown>;
    expect(Object.hasOwn(result, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    const [sent] = await server.commands(1);
    expect(Object.hasOwn(sent?.arguments as object, "__proto__")).toBe(true);
  });
});

describe("session end", () => {
  test("every pending command rejects at once with ExecInterruptedError when the peer closes", async () => {
    const { client, server, peer } = await setup(silent);
    const pending = [
      client.execute("query-status"),
      client.executeUntyped("x"),
      client.executeRaw({ execute: "y" }),
    ];
    await server.commands(3);
    peer.socket.terminate();
    for (const p of pending) {
      const error = (await rejection(p)) as ExecInterruptedError;
      expect(error).toBeInstanceOf(ExecInterruptedError);
      expect(error.code).toBe("QMP_ERR_INTERRUPTED");
    }
    expect(client.runstate).toBe(Runstate.DISCONNECTING);
    await rejection(client.disconnect());
    expect(client.runstate).toBe(Runstate.IDLE);
  });

  test("disconnect() rejects pending commands at once with ExecInterruptedError and does not throw", async () => {
    const { client, server } = await setup(silent);
    const pending = client.execute("query-status");
    await server.commands(1);
    const disconnecting = client.disconnect();
    expect(await rejection(pending)).toBeInstanceOf(ExecInterruptedError);
    await within(disconnecting);
    expect(client.runstate).toBe(Runstate.IDLE);
  });

  test("quit: a clean close that overtakes the reply resolves quit with {} and disconnect() does not throw", async () => {
    const { client } = await setup({
      onCommand: (m, peer: ScriptPeer) => {
        if (m.execute !== "quit") return peer.send({ return: {}, id: m.id });
        peer.send({ event: "SHUTDOWN", data: { guest: false, reason: "host-qmp-quit" }, timestamp: ts() });
        peer.close();
      },
    });
    const shutdown = client.waitForEvent("SHUTDOWN");
    expect(await within(client.execute("quit"))).toEqual({});
    expect((await within(shutdown)).data).toEqual({ guest: false, reason: "host-qmp-quit" });
    await within(client.disconnect());
    expect(client.runstate).toBe(Runstate.IDLE);
  });

  test("a peer close without quit is reported by disconnect() as ConnectionClosedError", async () => {
    const { client, peer } = await setup();
    peer.close();
    while (client.runstate === Runstate.RUNNING) await within(client.runstateChanged());
    const error = await rejection(client.disconnect());
    expect((error as Error).name).toBe("ConnectionClosedError");
  });
});

describe("large replies", () => {
  test("a 5 MiB reply under the default 10 MiB limit arrives whole", async () => {
    const big = "x".repeat(5 * 1024 * 1024);
    const { client } = await setup({ onCommand: (m, peer) => peer.send({ return: big, id: m.id }) });
    const value = await within(client.executeUntyped("big"), 10_000);
    expect(value).toBe(big);
  }, 20_000);

  test("a 50 MiB reply over the 10 MiB limit ends the session with a clean ProtocolError", async () => {
    const huge = "y".repeat(50 * 1024 * 1024);
    const { client } = await setup({ onCommand: (m, peer) => peer.send({ return: huge, id: m.id }) });
    const error = await rejection(client.executeUntyped("huge"), 10_000);
    expect(error).toBeInstanceOf(ExecInterruptedError);
    const thrown = await rejection(client.disconnect(), 10_000);
    expect(thrown).toBeInstanceOf(ProtocolError);
    expect(thrown).toBeInstanceOf(FrameTooLargeError);
    expect(client.runstate).toBe(Runstate.IDLE);
  }, 20_000);
});

function ts(): { seconds: number; microseconds: number } {
  return { seconds: 1, microseconds: 0 };
}

describe("sendFd", () => {
  test("over TCP is a clear FdPassingError (descriptors need a unix socket)", async () => {
    const greeting = `${JSON.stringify(GREETING)}\r\n`;
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (socket) => void socket.write(greeting),
        data: (socket, chunk) => {
          for (const line of chunk.toString().split("\n")) {
            if (line.trim() !== "")
              socket.write(`${JSON.stringify({ return: {}, id: JSON.parse(line).id })}\r\n`);
          }
        },
      },
    });
    cleanups.push(() => server.stop(true));
    const client = new QMPClient();
    cleanups.push(() => client.disconnect());
    await within(client.connect({ host: "127.0.0.1", port: server.port }));
    const error = await rejection(client.sendFd(0));
    expect(error).toBeInstanceOf(FdPassingError);
    expect((error as FdPassingError).code).toBe("QMP_ERR_SEND_FD");
  });

  test("before connecting is a StateError", async () => {
    expect(await rejection(new QMPClient().sendFd(0))).toBeInstanceOf(StateError);
  });
});

describe("validateWith", () => {
  test("validates against a given schema: a bad call is rejected unsent, a good one goes out", async () => {
    const schema = await Bun.file(
      join(import.meta.dir, "../../testkit/fixtures/qemu-7.2-schema.json"),
    ).json();
    const { client, peer } = await setup();
    client.validateWith(schema);
    const error = (await rejection(
      client.executeUntyped("blockdev-del", { "node-name": 1 }),
    )) as QMPValidationError;
    expect(error).toBeInstanceOf(QMPValidationError);
    expect(error.command).toBe("blockdev-del");
    expect(error.problems.map((p) => p.path)).toEqual(["node-name"]);
    expect(
      ((await rejection(client.executeUntyped("query-stauts"))) as QMPValidationError).message,
    ).toContain("query-status");
    await client.execute("blockdev-del", { "node-name": "d" });
    expect(peer.received.map((m) => m.execute)).toEqual(["qmp_capabilities", "blockdev-del"]);
  });

  // The client makes its schema cache on first use; a schema validateWith() refuses must not make one that then
  // fetches the live schema before every command.
  test("a schema it refuses leaves a client that did not validate still not validating", async () => {
    const { client, peer } = await setup({
      onCommand: (m, p) => p.send(`{"return": {}${idMember(m.id)}}\r\n`),
    });
    expect(() => client.validateWith({ not: "a schema" })).toThrow();
    expect(await within(client.executeUntyped("query-stauts"))).toEqual({});
    expect(peer.received.map((m) => m.execute)).toEqual(["qmp_capabilities", "query-stauts"]);
  });
});

describe("integers beyond 2^53", () => {
  // QEMU sends uint64 sizes and counters; a double holds integers exactly only up to 2^53.
  const reply = (id: unknown) =>
    `{"return": {"max": 18446744073709551615, "neg": -9007199254740993, "safe": 42, "ratio": 1.5, ` +
    `"label": "1234567890123456789"}${idMember(id)}}\r\n`;

  test("arrive as the nearest number by default (JSON.parse semantics)", async () => {
    const { client } = await setup({ onCommand: (m, peer) => peer.send(reply(m.id)) });
    const value = (await within(client.executeUntyped("query-stats"))) as Record<string, unknown>;
    expect(value.max).toBe(2 ** 64);
    expect(value.neg).toBe(-(2 ** 53));
  });

  test("with bigints: true arrive exact as bigint, everything else unchanged", async () => {
    const { client } = await setup({ onCommand: (m, peer) => peer.send(reply(m.id)) }, { bigints: true });
    expect(await within(client.executeUntyped("query-stats"))).toEqual({
      max: 18446744073709551615n,
      neg: -9007199254740993n,
      safe: 42,
      ratio: 1.5,
      label: "1234567890123456789",
    });
  });
});

/** The `, "id": …` member of a hand-written reply: absent when the command was sent without an id. */
function idMember(id: unknown): string {
  return id === undefined ? "" : `, "id": ${JSON.stringify(id)}`;
}
