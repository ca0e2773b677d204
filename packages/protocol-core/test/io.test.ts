import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { BackpressureError, ConnectError, ConnectionClosedError, Runstate } from "../src/index.ts";
import { LineProtocol, listenPeer, selfSignedCert, tempSocketPath, within } from "./helpers.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pausedPair() {
  const temp = tempSocketPath();
  cleanups.push(temp.cleanup);
  const peer = listenPeer({ unix: temp.path }, { pauseReading: true });
  cleanups.push(() => peer.stop());
  const protocol = new LineProtocol();
  cleanups.push(() => protocol.disconnect().catch(() => {}));
  await protocol.connect(temp.path);
  const socket = await peer.connected;
  return { protocol, peer, socket };
}

/** `count` distinct lines of `size` bytes (with the newline), so order and integrity are checkable. */
function numberedLines(count: number, size: number): string[] {
  return Array.from({ length: count }, (_, i) => `${String(i).padStart(8, "0")}${"x".repeat(size - 9)}`);
}

describe("writing", () => {
  test("50 MiB to a reader that is not reading arrives complete and in order once it reads", async () => {
    const { protocol, peer, socket } = await pausedPair();
    const lines = numberedLines(50, 1024 * 1024);
    for (const line of lines) protocol.sendLine(line);
    // One tick later the coalesced write has run; the kernel cannot take 50 MiB, so the rest waits for drain.
    await Bun.sleep(0);
    expect(protocol.queuedBytes).toBeGreaterThan(0);
    expect(protocol.queuedBytes).toBeLessThan(50 * 1024 * 1024);
    socket.resume();
    await within(protocol.flushed(), 20000, "flush");
    await within(peer.waitForBytes(50 * 1024 * 1024), 20000, "peer receipt");
    expect(peer.receivedText()).toBe(lines.map((l) => `${l}\n`).join(""));
  });

  test("a clean disconnect() flushes queued writes before closing", async () => {
    const { protocol, peer, socket } = await pausedPair();
    const lines = numberedLines(16, 1024 * 1024);
    for (const line of lines) protocol.sendLine(line);
    const disconnecting = protocol.disconnect();
    socket.resume();
    await within(disconnecting, 20000, "disconnect");
    await within(peer.closed, 5000, "peer close");
    expect(peer.receivedText()).toBe(lines.map((l) => `${l}\n`).join(""));
    expect(protocol.runstate).toBe(Runstate.IDLE);
  });

  test("after a peer reset the queued writes are dropped and disconnect() reports the reset", async () => {
    const { protocol, socket } = await pausedPair();
    for (const line of numberedLines(16, 1024 * 1024)) protocol.sendLine(line);
    await Promise.resolve();
    socket.terminate();
    // flushed() resolving proves the queue was dropped: the peer can never read it.
    await within(protocol.flushed(), 5000, "queue drop");
    const error = await within(protocol.disconnect().catch((e) => e));
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(protocol.runstate).toBe(Runstate.IDLE);
  });
});

describe("a peer that never reads", () => {
  test("send() refuses with BackpressureError at maxBufferedWriteBytes, queueing nothing, and recovers", async () => {
    const temp = tempSocketPath();
    cleanups.push(temp.cleanup);
    const peer = listenPeer({ unix: temp.path }, { pauseReading: true });
    cleanups.push(() => peer.stop());
    const limit = 8 * 1024 * 1024;
    const protocol = new LineProtocol({ maxBufferedWriteBytes: limit });
    cleanups.push(() => protocol.disconnect().catch(() => {}));
    await protocol.connect(temp.path);
    const socket = await peer.connected;
    const line = "y".repeat(1024 * 1024 - 1);
    let sent = 0;
    let refusal: unknown;
    for (let i = 0; i < 200 && refusal === undefined; i++) {
      try {
        protocol.sendLine(line);
        sent++;
      } catch (error) {
        refusal = error;
      }
      // Let the coalesced write reach the kernel so the queue reflects what the peer left unread.
      await Bun.sleep(0);
    }
    expect(refusal).toBeInstanceOf(BackpressureError);
    expect((refusal as BackpressureError).limit).toBe(limit);
    expect(protocol.queuedBytes).toBeLessThanOrEqual(limit + line.length + 1);
    expect(protocol.runstate).toBe(Runstate.RUNNING);
    socket.resume();
    await within(peer.waitForBytes(sent * (line.length + 1)), 20000, "peer catching up");
    await within(protocol.flushed(), 20000, "flush");
    expect(peer.receivedText().length).toBe(sent * (line.length + 1));
    expect(() => protocol.sendLine("after")).not.toThrow();
  });
});

describe("hooks", () => {
  test("inbound and outbound hooks see every message in wire order", async () => {
    const temp = tempSocketPath();
    cleanups.push(temp.cleanup);
    const peer = listenPeer(
      { unix: temp.path },
      { onData: (socket, chunk) => socket.write(chunk.toString().toUpperCase()) },
    );
    cleanups.push(() => peer.stop());
    const seen: string[] = [];
    const protocol = new LineProtocol({
      onInbound: (m) => seen.push(`<-- ${m}`),
      onOutbound: (m) => seen.push(`--> ${m}`),
    });
    cleanups.push(() => protocol.disconnect().catch(() => {}));
    await protocol.connect(temp.path);
    for (const word of ["one", "two", "three"]) {
      protocol.sendLine(word);
      await within(protocol.waitForMessages(protocol.received.length + 1));
    }
    expect(seen).toEqual(["--> one", "<-- ONE", "--> two", "<-- TWO", "--> three", "<-- THREE"]);
  });
});

describe("TLS", () => {
  let key = "";
  let cert = "";
  const openssl = Bun.which("openssl");

  beforeAll(() => {
    if (openssl) ({ key, cert } = selfSignedCert() as { key: string; cert: string });
  });

  test.skipIf(!openssl)("a client trusting the self-signed certificate talks to a TLS listener", async () => {
    const peer = listenPeer(
      { port: 0, tls: { key, cert } },
      { onData: (socket, chunk) => socket.write(chunk) },
    );
    cleanups.push(() => peer.stop());
    const protocol = new LineProtocol();
    cleanups.push(() => protocol.disconnect().catch(() => {}));
    await within(
      protocol.connect(
        { host: "127.0.0.1", port: peer.port },
        { tls: { ca: cert, serverName: "localhost" } },
      ),
    );
    protocol.sendLine("over tls");
    await within(protocol.waitForMessages(1));
    expect(protocol.received).toEqual(["over tls"]);
  });

  test.skipIf(!openssl)(
    "an unverifiable certificate fails the connect with ConnectError, back to IDLE",
    async () => {
      const peer = listenPeer({ port: 0, tls: { key, cert } });
      cleanups.push(() => peer.stop());
      const protocol = new LineProtocol();
      const error = await within(
        protocol.connect({ host: "127.0.0.1", port: peer.port }, { tls: true }).catch((e) => e),
      );
      expect(error).toBeInstanceOf(ConnectError);
      expect(protocol.runstate).toBe(Runstate.IDLE);
    },
  );

  test.skipIf(!openssl)("an AsyncProtocol TLS server accepts an AsyncProtocol TLS client", async () => {
    const server = new LineProtocol();
    const client = new LineProtocol();
    cleanups.push(() => client.disconnect().catch(() => {}));
    cleanups.push(() => server.disconnect().catch(() => {}));
    await server.startServer({ host: "127.0.0.1", port: 0 }, { tls: { key, cert } });
    const address = server.listeningAddress;
    if (address?.kind !== "tcp") throw new Error("expected TCP");
    const accepted = server.accept({ timeoutMs: 10000 });
    await within(
      client.connect(
        { host: "127.0.0.1", port: address.port },
        { tls: { ca: cert, serverName: "localhost" } },
      ),
    );
    await within(accepted);
    client.sendLine("ping");
    await within(server.waitForMessages(1));
    expect(server.received).toEqual(["ping"]);
  });
});
