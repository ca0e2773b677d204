// Session set-up against scripted servers: greeting, negotiation, raw sessions, connect timeouts and retries.

import { afterEach, describe, expect, test } from "bun:test";
import {
  ConnectError,
  connect,
  GreetingError,
  NegotiationError,
  QMPClient,
  Runstate,
  StateError,
  TimeoutError,
} from "../src/index.ts";
import { freeSocketPath, GREETING, type ScriptServer, scriptServer } from "./helpers/script-server.ts";
import { rejection, within } from "./helpers/within.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

function serve(options: Parameters<typeof scriptServer>[0] = {}): ScriptServer {
  const server = scriptServer(options);
  cleanups.push(() => server.stop());
  return server;
}

function client(options: ConstructorParameters<typeof QMPClient>[0] = {}): QMPClient {
  const c = new QMPClient(options);
  cleanups.push(() => c.disconnect());
  return c;
}

describe("greeting", () => {
  test("is parsed and exposed; CRLF line ends are accepted", async () => {
    const server = serve();
    const c = client();
    await within(c.connect(server.path));
    expect(c.greeting).toEqual({
      QMP: {
        version: { qemu: { major: 7, minor: 2, micro: 0 }, package: "scripted" },
        capabilities: ["oob"],
      },
    });
  });

  test.each([
    ["not a greeting at all", { hello: "world" }],
    ["version missing", { QMP: { capabilities: [] } }],
    ["capabilities not a list", { QMP: { version: GREETING.QMP.version, capabilities: "oob" } }],
    [
      "version numbers not numbers",
      { QMP: { version: { qemu: { major: "7" }, package: "" }, capabilities: [] } },
    ],
  ])(
    "malformed (%s): ConnectError('Failed to establish session') caused by GreetingError, back to IDLE",
    async (_, greeting) => {
      const server = serve({ greeting });
      const c = client();
      const error = await rejection(c.connect(server.path));
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).message).toStartWith("Failed to establish session");
      expect((error as ConnectError).cause).toBeInstanceOf(GreetingError);
      expect((error as ConnectError).code).toBe("QMP_ERR_GREETING");
      expect(c.runstate).toBe(Runstate.IDLE);
    },
  );

  test("a line that is not JSON fails the session set-up with a ConnectError", async () => {
    const server = serve({ greeting: "this is not json\r\n" });
    const c = client();
    const error = await rejection(c.connect(server.path));
    expect(error).toBeInstanceOf(ConnectError);
    expect(c.runstate).toBe(Runstate.IDLE);
  });

  test("that never comes times out after greetingTimeoutMs (QMP_ERR_GREETING_TIMEOUT), back to IDLE", async () => {
    const server = serve({ greeting: null });
    const c = client({ greetingTimeoutMs: 100 });
    const error = await rejection(c.connect(server.path));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).cause).toBeInstanceOf(TimeoutError);
    expect((error as ConnectError).code).toBe("QMP_ERR_GREETING_TIMEOUT");
    expect(c.runstate).toBe(Runstate.IDLE);
  });

  test("per-connect greetingTimeoutMs overrides the client's default", async () => {
    const server = serve({ greeting: null });
    const c = client({ greetingTimeoutMs: 60_000 });
    const error = await rejection(c.connect(server.path, { greetingTimeoutMs: 50 }));
    expect((error as ConnectError).code).toBe("QMP_ERR_GREETING_TIMEOUT");
  });
});

describe("negotiation", () => {
  test("enables oob when offered", async () => {
    const server = serve();
    const c = client();
    await c.connect(server.path);
    const peer = await server.peer();
    expect(peer.received[0]).toMatchObject({ execute: "qmp_capabilities", arguments: { enable: ["oob"] } });
    expect(c.capabilities).toEqual(["oob"]);
  });

  test("does not enable oob with oob: false", async () => {
    const server = serve();
    const c = client({ oob: false });
    await c.connect(server.path);
    const peer = await server.peer();
    expect(peer.received[0]).not.toHaveProperty("arguments");
    expect(c.capabilities).toEqual([]);
  });

  test("does not ask for oob when the server does not offer it", async () => {
    const server = serve({ greeting: { QMP: { ...GREETING.QMP, capabilities: [] } } });
    const c = client();
    await c.connect(server.path);
    expect((await server.peer()).received[0]).not.toHaveProperty("arguments");
    expect(c.capabilities).toEqual([]);
  });

  test("refused: ConnectError caused by NegotiationError with QEMU's class, back to IDLE", async () => {
    const server = serve({
      negotiation: "script",
      onCommand: (msg, peer) =>
        peer.send({
          error: { class: "GenericError", desc: "Capabilities negotiation is already complete" },
          id: msg.id,
        }),
    });
    const c = client();
    const error = await rejection(c.connect(server.path));
    expect(error).toBeInstanceOf(ConnectError);
    const cause = (error as ConnectError).cause as NegotiationError;
    expect(cause).toBeInstanceOf(NegotiationError);
    expect(cause.code).toBe("QMP_ERR_NEGOTIATION");
    expect(cause.errorClass).toBe("GenericError");
    expect(cause.message).toContain("already complete");
    expect(c.runstate).toBe(Runstate.IDLE);
  });

  test("a reply without return or error is a NegotiationError", async () => {
    const server = serve({ negotiation: "script", onCommand: (msg, peer) => peer.send({ id: msg.id }) });
    const error = await rejection(client().connect(server.path));
    expect((error as ConnectError).cause).toBeInstanceOf(NegotiationError);
  });

  test("that never answers times out after negotiationTimeoutMs (QMP_ERR_NEGOTIATION_TIMEOUT)", async () => {
    const server = serve({ negotiation: "script", onCommand: () => {} });
    const c = client({ negotiationTimeoutMs: 100 });
    const error = await rejection(c.connect(server.path));
    expect((error as ConnectError).code).toBe("QMP_ERR_NEGOTIATION_TIMEOUT");
    expect(c.runstate).toBe(Runstate.IDLE);
  });

  test("events sent during negotiation reach the listeners", async () => {
    const server = serve({
      negotiation: "script",
      onCommand: (msg, peer) => {
        peer.send({ event: "EARLY", timestamp: { seconds: 1, microseconds: 2 } });
        peer.send({ return: {}, id: msg.id });
      },
    });
    const c = client();
    await c.connect(server.path);
    expect(await within(c.events.get())).toEqual({
      event: "EARLY",
      data: {},
      timestamp: { seconds: 1, microseconds: 2 },
    });
  });
});

describe("raw sessions", () => {
  test("awaitGreeting: false and negotiate: false leave the session to the caller", async () => {
    const server = serve({ greeting: null });
    const c = client({ awaitGreeting: false, negotiate: false });
    await within(c.connect(server.path));
    expect(c.runstate).toBe(Runstate.RUNNING);
    expect(c.greeting).toBeUndefined();
    expect(c.capabilities).toEqual([]);
    const reply = await within(c.executeRaw({ execute: "qmp_capabilities", id: "mine" }));
    expect(reply).toEqual({ return: {}, id: "mine" });
  });

  test("negotiate: false still reads the greeting", async () => {
    const server = serve();
    const c = client({ negotiate: false });
    await c.connect(server.path);
    expect(c.greeting?.QMP.capabilities).toEqual(["oob"]);
    expect((await server.peer()).received).toEqual([]);
  });

  test("awaitGreeting: false picks up the greeting when it arrives", async () => {
    const server = serve();
    const c = client({ awaitGreeting: false });
    await c.connect(server.path);
    expect(c.greeting?.QMP.version.package).toBe("scripted");
    // No greeting was read before negotiating, so oob was not offered yet and not asked for.
    expect(c.capabilities).toEqual([]);
  });
});

describe("connecting", () => {
  test("execute before connect is a StateError", async () => {
    const error = await rejection(client().execute("query-status"));
    expect(error).toBeInstanceOf(StateError);
  });

  test("a missing socket is ConnectError with code ENOENT", async () => {
    const where = freeSocketPath();
    cleanups.push(where.cleanup);
    const error = await rejection(client().connect(where.path));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe("ENOENT");
  });

  test("retry: connects once the socket appears, after ENOENT failures", async () => {
    const where = freeSocketPath();
    cleanups.push(where.cleanup);
    const c = client();
    const connecting = c.connect(where.path, { retry: { attempts: 200, delayMs: 10 } });
    // Start the server only after the first attempt failed (the client is between attempts).
    await within(
      (async () => {
        while (c.runstate !== Runstate.IDLE) await c.runstateChanged();
      })(),
    );
    const server = scriptServer({});
    cleanups.push(() => server.stop());
    const path = server.path;
    // Move the listening socket into place: the client keeps retrying the same path.
    const { renameSync } = await import("node:fs");
    renameSync(path, where.path);
    await within(connecting);
    expect(c.runstate).toBe(Runstate.RUNNING);
    expect(c.greeting?.QMP.version.package).toBe("scripted");
  });

  test("retry gives up after `attempts` attempts with the last ConnectError", async () => {
    const where = freeSocketPath();
    cleanups.push(where.cleanup);
    const c = client();
    const states: Runstate[] = [];
    const changes = c.runstateChanges();
    const collecting = (async () => {
      for await (const s of changes) states.push(s);
    })();
    const error = await rejection(c.connect(where.path, { retry: { attempts: 3, delayMs: 1 } }));
    await changes.return?.();
    await collecting;
    expect((error as ConnectError).code).toBe("ENOENT");
    expect(states.filter((s) => s === Runstate.CONNECTING)).toHaveLength(3);
  });

  test("retry does not retry other failures (a malformed greeting)", async () => {
    const server = serve({ greeting: { nope: true } });
    const error = await rejection(client().connect(server.path, { retry: { attempts: 5, delayMs: 1 } }));
    expect((error as ConnectError).cause).toBeInstanceOf(GreetingError);
    expect(server.peers).toHaveLength(1);
  });

  test("timeoutMs bounds the whole retrying connect", async () => {
    const where = freeSocketPath();
    cleanups.push(where.cleanup);
    const c = client();
    const error = await rejection(
      c.connect(where.path, { timeoutMs: 100, retry: { attempts: 1e9, delayMs: 5 } }),
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe("QMP_ERR_CONNECT_TIMEOUT");
    expect(c.runstate).toBe(Runstate.IDLE);
  });

  test("an abort while retrying rejects with the signal's reason, unwrapped", async () => {
    const where = freeSocketPath();
    cleanups.push(where.cleanup);
    const controller = new AbortController();
    const c = client();
    const connecting = c.connect(where.path, {
      signal: controller.signal,
      retry: { attempts: 1e9, delayMs: 5 },
    });
    const reason = new Error("changed my mind");
    setTimeout(() => controller.abort(reason), 30);
    expect(await rejection(connecting)).toBe(reason);
    expect(c.runstate).toBe(Runstate.IDLE);
  });

  test("an abort while waiting for the greeting rejects with the reason, unwrapped, back to IDLE", async () => {
    const server = serve({ greeting: null });
    const controller = new AbortController();
    const c = client();
    const connecting = c.connect(server.path, { signal: controller.signal });
    await server.peer();
    const reason = new Error("stop waiting");
    controller.abort(reason);
    expect(await rejection(connecting)).toBe(reason);
    expect(c.runstate).toBe(Runstate.IDLE);
  });

  test("connect() (the function) passes client and connect options through", async () => {
    const server = serve();
    const seen: unknown[] = [];
    const c = await connect(server.path, { name: "vm1", oob: false, onOutbound: (m) => seen.push(m) });
    cleanups.push(() => c.disconnect());
    expect(c.name).toBe("vm1");
    expect(c.capabilities).toEqual([]);
    expect(seen[0]).toMatchObject({ execute: "qmp_capabilities" });
  });

  test("the client reconnects after a disconnect and negotiates again", async () => {
    const server = serve();
    const c = client();
    await c.connect(server.path);
    await c.disconnect();
    await c.connect(server.path);
    expect(await within(c.executeUntyped("query-status"))).toEqual({});
    expect(server.peers).toHaveLength(2);
  });
});
