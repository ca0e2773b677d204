/**
 * In-process connections (`inproc:NAME`): the handlers run in the order Bun's unix sockets run them (each scenario
 * is played over a real unix socket and in process, and the two logs compared), bytes arrive later than the write
 * and in order, and a whole protocol session runs over one.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, SocketHandler } from "bun";
import { ConnectionClosedError, connectInProcess, listenInProcess, resolveAddress } from "../src/index.ts";
import { LineProtocol, within } from "./helpers.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

type Side = "client" | "server";
type Scenario = (sockets: { client: Socket<unknown>; server: Socket<unknown> }, log: string[]) => void;

/**
 * Connects a client to a server over `transport`, lets `act` run once both are open, and resolves with the
 * handler calls of both sides once both have closed.
 */
async function play(transport: "unix" | "inproc", act: Scenario): Promise<string[]> {
  const log: string[] = [];
  const closed = { client: Promise.withResolvers<void>(), server: Promise.withResolvers<void>() };
  const serverOpen = Promise.withResolvers<Socket<unknown>>();
  const handlers = (side: Side): SocketHandler<unknown> => ({
    open: (socket) => {
      if (side === "server") serverOpen.resolve(socket);
    },
    data: (_socket, chunk) => {
      log.push(`${side} data ${chunk.toString()}`);
    },
    end: () => {
      log.push(`${side} end`);
    },
    close: (_socket, error) => {
      log.push(`${side} close${error ? ` ${error.message}` : ""}`);
      closed[side].resolve();
    },
    error: (_socket, error) => {
      log.push(`${side} error ${error.message}`);
    },
  });
  let client: Socket<unknown>;
  if (transport === "unix") {
    const dir = mkdtempSync(join(tmpdir(), "qmpkit-inproc-test-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "s.sock");
    const listener = Bun.listen({ unix: path, allowHalfOpen: true, socket: handlers("server") });
    cleanups.push(() => listener.stop(true));
    client = await Bun.connect({ unix: path, socket: handlers("client") });
  } else {
    const listener = listenInProcess({ socket: handlers("server") });
    cleanups.push(() => listener.stop(true));
    client = await connectInProcess(listener.name, handlers("client"));
  }
  const server = await within(serverOpen.promise, 2000);
  act({ client, server }, log);
  await within(Promise.all([closed.client.promise, closed.server.promise]), 2000);
  return log;
}

const scenarios: Record<string, Scenario> = {
  "client writes, then ends": ({ client }) => {
    client.write("hello");
    setTimeout(() => client.end(), 20);
  },
  "server replies, then ends": ({ client, server }) => {
    client.write("ping");
    setTimeout(() => {
      server.write("pong");
      setTimeout(() => server.end(), 20);
    }, 20);
  },
  "client terminates": ({ client }) => client.terminate(),
  "server terminates": ({ server }) => server.terminate(),
  "writes after the close are refused": ({ client, server }, log) => {
    client.end();
    log.push(`client write after its end: ${client.write("x")}`);
    setTimeout(() => log.push(`server write after the peer closed: ${server.write("y")}`), 20);
  },
};

for (const [name, act] of Object.entries(scenarios)) {
  test(`in process as on a unix socket: ${name}`, async () => {
    const real = await play("unix", act);
    const inProcess = await play("inproc", act);
    expect(inProcess).toEqual(real);
  });
}

test("bytes arrive after the write returns, all of one turn's writes as one chunk, in order", async () => {
  const received: string[] = [];
  const got = Promise.withResolvers<void>();
  const listener = listenInProcess({
    socket: {
      data: (_s, chunk) => {
        received.push(chunk.toString());
        if (received.join("").length === 6) got.resolve();
      },
    },
  });
  cleanups.push(() => listener.stop(true));
  const client = await connectInProcess(listener.name, { data() {} });
  const source = new Uint8Array([0x61, 0x62, 0x63]);
  expect(client.write(source)).toBe(3);
  // The kernel would have copied the bytes: changing the buffer afterwards must not change what arrives.
  source.fill(0x7a);
  expect(client.write("def")).toBe(3);
  expect(received).toEqual([]);
  await within(got.promise, 2000);
  client.write("ghi");
  await within(
    (async () => {
      while (received.join("").length < 9) await new Promise((resolve) => setImmediate(resolve));
    })(),
    2000,
  );
  expect(received).toEqual(["abcdef", "ghi"]);
});

test("connecting to a name nobody listens on fails as Bun.connect does: ECONNREFUSED", async () => {
  const listener = listenInProcess({ socket: {} });
  listener.stop();
  const refused = await connectInProcess(listener.name, {}).catch((error: unknown) => error);
  expect(refused).toMatchObject({ message: "Failed to connect", code: "ECONNREFUSED" });
});

test("a name is listened on once: the second listener gets EADDRINUSE", () => {
  const first = listenInProcess({ name: "qmpkit-test-taken", socket: {} });
  cleanups.push(() => first.stop());
  expect(() => listenInProcess({ name: "qmpkit-test-taken", socket: {} })).toThrow(
    expect.objectContaining({ code: "EADDRINUSE" }),
  );
  expect(first.address).toBe("inproc:qmpkit-test-taken");
  expect(resolveAddress(first.address)).toEqual({ kind: "inproc", name: "qmpkit-test-taken" });
});

test("stop(true) closes the connections the listener accepted", async () => {
  const serverClosed = Promise.withResolvers<void>();
  const clientClosed = Promise.withResolvers<void>();
  const listener = listenInProcess({ socket: { close: () => serverClosed.resolve() } });
  await connectInProcess(listener.name, { close: () => clientClosed.resolve() });
  listener.stop(true);
  await within(Promise.all([serverClosed.promise, clientClosed.promise]), 2000);
});

test("a protocol session connects, exchanges messages and disconnects over inproc:", async () => {
  const server = new LineProtocol();
  await server.startServer("inproc:qmpkit-test-lines");
  const accepted = server.accept();
  const client = new LineProtocol();
  await client.connect("inproc:qmpkit-test-lines");
  await within(accepted, 2000);
  client.sendLine("one");
  client.sendLine("two");
  await within(server.waitForMessages(2), 2000);
  server.sendLine("three");
  await within(client.waitForMessages(1), 2000);
  expect([server.received, client.received]).toEqual([["one", "two"], ["three"]]);
  await client.disconnect();
  // As over a socket: the server's session ended by the peer's close, which its disconnect() reports once.
  await within(server.runstateChanged(), 2000);
  await expect(server.disconnect()).rejects.toBeInstanceOf(ConnectionClosedError);
  // The name is free again once the server stopped listening (it did at accept).
  const again = listenInProcess({ name: "qmpkit-test-lines", socket: {} });
  again.stop();
});
