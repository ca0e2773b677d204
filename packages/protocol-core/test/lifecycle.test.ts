import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { inspect } from "node:util";
import { ConnectError, ConnectionClosedError, ProtocolError, Runstate, StateError } from "../src/index.ts";
import { closedTcpPort, LineProtocol, listenPeer, recordStates, tempSocketPath, within } from "./helpers.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempPath(): string {
  const temp = tempSocketPath();
  cleanups.push(temp.cleanup);
  return temp.path;
}

function newProtocol(name?: string): LineProtocol {
  const protocol = new LineProtocol(name === undefined ? {} : { name });
  cleanups.push(() => protocol.disconnect().catch(() => {}));
  return protocol;
}

describe("a fresh instance", () => {
  test("is IDLE, unnamed, and shows class, name and runstate when printed", () => {
    const anonymous = new LineProtocol();
    expect(anonymous.runstate).toBe(Runstate.IDLE);
    expect(anonymous.name).toBeUndefined();
    expect(String(anonymous)).toBe("<LineProtocol runstate=IDLE>");
    const named = new LineProtocol({ name: "vm1" });
    expect(inspect(named)).toBe('<LineProtocol name="vm1" runstate=IDLE>');
  });

  test("logs as qmpkit.protocol, or qmpkit.protocol.<name> when named", async () => {
    const lines: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => lines.push(args.map(String).join(" "));
    const previous = process.env.QMPKIT_DEBUG;
    process.env.QMPKIT_DEBUG = "qmpkit.protocol";
    try {
      await new LineProtocol().disconnect();
      await new LineProtocol({ name: "vm1" }).disconnect();
    } finally {
      console.error = original;
      if (previous === undefined) delete process.env.QMPKIT_DEBUG;
      else process.env.QMPKIT_DEBUG = previous;
    }
    expect(lines.some((l) => l.startsWith("[qmpkit.protocol] debug"))).toBe(true);
    expect(lines.some((l) => l.startsWith("[qmpkit.protocol.vm1] debug"))).toBe(true);
  });

  test("disconnect() while IDLE is harmless and passes through DISCONNECTING back to IDLE", async () => {
    const protocol = newProtocol();
    const recorder = recordStates(protocol);
    await protocol.disconnect();
    await protocol.disconnect();
    await Bun.sleep(0);
    expect(recorder.states).toEqual(["DISCONNECTING", "IDLE", "DISCONNECTING", "IDLE"]);
    expect(protocol.runstate).toBe(Runstate.IDLE);
  });
});

describe("connect failures roll back to IDLE with ConnectError", () => {
  async function expectConnectFailure(protocol: LineProtocol, attempt: Promise<void>, code: string) {
    const recorder = recordStates(protocol);
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e,
    );
    await Bun.sleep(0);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).message.startsWith("Failed to establish connection")).toBe(true);
    expect(((error as ConnectError).cause as { code?: string }).code).toBe(code);
    expect((error as ConnectError).code).toBe(code);
    expect(protocol.runstate).toBe(Runstate.IDLE);
    return recorder;
  }

  test("to a closed TCP port: ECONNREFUSED, states CONNECTING, DISCONNECTING, IDLE", async () => {
    const protocol = newProtocol();
    const recorder = recordStates(protocol);
    await expectConnectFailure(
      protocol,
      protocol.connect({ host: "127.0.0.1", port: closedTcpPort() }),
      "ECONNREFUSED",
    );
    expect(recorder.states).toEqual(["CONNECTING", "DISCONNECTING", "IDLE"]);
  });

  test("to a missing unix path: ENOENT, states CONNECTING, DISCONNECTING, IDLE", async () => {
    const protocol = newProtocol();
    const recorder = recordStates(protocol);
    await expectConnectFailure(protocol, protocol.connect(`unix:${tempPath()}`), "ENOENT");
    expect(recorder.states).toEqual(["CONNECTING", "DISCONNECTING", "IDLE"]);
  });

  test("to a path that is not a socket: ECONNREFUSED, states CONNECTING, DISCONNECTING, IDLE", async () => {
    const path = tempPath();
    writeFileSync(path, "not a socket");
    const protocol = newProtocol();
    const recorder = recordStates(protocol);
    await expectConnectFailure(protocol, protocol.connect(path), "ECONNREFUSED");
    expect(recorder.states).toEqual(["CONNECTING", "DISCONNECTING", "IDLE"]);
  });

  test("startServerAndAccept on an address it cannot bind: EADDRINUSE, states CONNECTING, DISCONNECTING, IDLE", async () => {
    const path = tempPath();
    writeFileSync(path, "occupied");
    const protocol = newProtocol();
    const recorder = recordStates(protocol);
    await expectConnectFailure(protocol, protocol.startServerAndAccept(path), "EADDRINUSE");
    expect(recorder.states).toEqual(["CONNECTING", "DISCONNECTING", "IDLE"]);
  });
});

describe("a connect that hangs", () => {
  // A listener with backlog 0 whose queue is already full drops further SYNs, so connect() hangs until
  // something ends it. Bun.listen has no backlog option, hence a two-line python3 peer.
  const python = Bun.which("python3");

  async function hangingPort(): Promise<number> {
    const proc = Bun.spawn(
      [
        python as string,
        "-c",
        "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()",
      ],
      { stdin: "pipe", stdout: "pipe" },
    );
    cleanups.push(() => {
      proc.kill();
    });
    const reader = proc.stdout.getReader();
    const { value } = await within(reader.read(), 5000, "python listener start");
    reader.releaseLock();
    const port = Number(new TextDecoder().decode(value).trim());
    // Fill the accept queue with one connection nobody accepts.
    const filler = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    cleanups.push(() => filler.terminate());
    return port;
  }

  test.skipIf(!python)("is ended by timeoutMs with an unwrapped TimeoutError, back to IDLE", async () => {
    const port = await hangingPort();
    const protocol = newProtocol();
    const recorder = recordStates(protocol);
    const error = await within(protocol.connect({ host: "127.0.0.1", port }, { timeoutMs: 200 })).catch(
      (e) => e,
    );
    expect(error).not.toBeInstanceOf(ConnectError);
    expect(error.code).toBe("QMP_ERR_CONNECT_TIMEOUT");
    expect(protocol.runstate).toBe(Runstate.IDLE);
    await Bun.sleep(0);
    expect(recorder.states).toEqual(["CONNECTING", "DISCONNECTING", "IDLE"]);
  });

  test.skipIf(!python)(
    "is ended by an AbortSignal, rejecting with the signal's reason, back to IDLE",
    async () => {
      const port = await hangingPort();
      const protocol = newProtocol();
      const controller = new AbortController();
      const reason = new Error("user gave up");
      const attempt = protocol.connect({ host: "127.0.0.1", port }, { signal: controller.signal });
      await Bun.sleep(50);
      expect(protocol.runstate).toBe(Runstate.CONNECTING);
      controller.abort(reason);
      expect(await within(attempt.catch((e) => e))).toBe(reason);
      expect(protocol.runstate).toBe(Runstate.IDLE);
    },
  );

  test("an already-aborted signal rejects with its reason before any socket is opened", async () => {
    const protocol = newProtocol();
    const reason = new Error("too late");
    expect(await protocol.connect(tempPath(), { signal: AbortSignal.abort(reason) }).catch((e) => e)).toBe(
      reason,
    );
    expect(protocol.runstate).toBe(Runstate.IDLE);
  });
});

describe("state errors", () => {
  test("connect/startServer while CONNECTING, RUNNING or DISCONNECTING throw StateError with state and required", async () => {
    const path = tempPath();
    const peer = listenPeer({ unix: path });
    cleanups.push(() => peer.stop());
    const protocol = newProtocol();

    const listening = tempPath();
    await protocol.startServer(listening);
    expect(protocol.runstate).toBe(Runstate.CONNECTING);
    const rejected = await protocol.connect(path).catch((e) => e);
    expect(rejected).toBeInstanceOf(StateError);
    expect(rejected.message).toBe("LineProtocol is currently connecting.");
    expect(rejected.state).toBe(Runstate.CONNECTING);
    expect(rejected.required).toBe(Runstate.IDLE);
    await protocol.disconnect();

    await protocol.connect(path);
    const running = await protocol.startServer(tempPath()).catch((e) => e);
    expect(running).toBeInstanceOf(StateError);
    expect(running.message).toBe("LineProtocol is already connected and running.");
    expect(running.state).toBe(Runstate.RUNNING);

    (await peer.connected).terminate();
    while (protocol.runstate === Runstate.RUNNING) await protocol.runstateChanged();
    const disconnecting = await protocol.startServerAndAccept(tempPath()).catch((e) => e);
    expect(disconnecting).toBeInstanceOf(StateError);
    expect(disconnecting.message).toBe(
      "LineProtocol is disconnecting. Call disconnect() to return to IDLE state.",
    );
    expect(disconnecting.state).toBe(Runstate.DISCONNECTING);
    await protocol.disconnect().catch(() => {});
  });

  test("accept() before startServer() is a StateError", async () => {
    const error = await newProtocol()
      .accept()
      .catch((e) => e);
    expect(error).toBeInstanceOf(StateError);
    expect(error.message).toContain("call startServer() first");
  });
});

describe("runstate watching", () => {
  test("runstateChanged() resolves with the next state, and runstateChanges() sees every later change", async () => {
    const path = tempPath();
    const peer = listenPeer({ unix: path });
    cleanups.push(() => peer.stop());
    const protocol = newProtocol();
    const first = protocol.runstateChanged();
    const connecting = protocol.connect(path);
    expect(await first).toBe(Runstate.CONNECTING);
    // A watcher that starts after connect() began still sees the rest, in order.
    const late = recordStates(protocol);
    await connecting;
    await protocol.disconnect();
    await Bun.sleep(0);
    expect(late.states).toEqual(["RUNNING", "DISCONNECTING", "IDLE"]);
  });
});

describe("servers", () => {
  test("startServer() listens before it resolves; accept() takes one peer, stops listening, closes extras", async () => {
    const path = tempPath();
    const protocol = newProtocol();
    await protocol.startServer(path);
    expect(existsSync(path)).toBe(true);
    // Connect before accept() is even called: the listening socket must already exist.
    const first = await Bun.connect({ unix: path, socket: { data() {} } });
    cleanups.push(() => first.terminate());
    await within(protocol.accept());
    expect(protocol.runstate).toBe(Runstate.RUNNING);
    expect(existsSync(path)).toBe(false);
    const late = await Bun.connect({ unix: path, socket: { data() {} } }).catch((e) => e);
    expect(late.code).toBe("ENOENT");
    first.write("hello\n");
    await within(protocol.waitForMessages(1));
    expect(protocol.received).toEqual(["hello"]);
  });

  test("a second peer never joins the session: it is refused once listening stopped, or closed if it raced in", async () => {
    const protocol = newProtocol();
    await protocol.startServer({ host: "127.0.0.1", port: 0 });
    const address = protocol.listeningAddress;
    if (address?.kind !== "tcp") throw new Error("expected a TCP listening address");
    const secondClosed = Promise.withResolvers<void>();
    const [first, second] = await Promise.allSettled([
      Bun.connect({ hostname: "127.0.0.1", port: address.port, socket: { data() {} } }),
      Bun.connect({
        hostname: "127.0.0.1",
        port: address.port,
        socket: { data() {}, close: () => secondClosed.resolve() },
      }),
    ]);
    if (first.status !== "fulfilled") throw first.reason;
    cleanups.push(() => first.value.terminate());
    await within(protocol.accept());
    first.value.write("from the first peer\n");
    if (second.status === "fulfilled") {
      second.value.write("from the second peer\n");
      await within(secondClosed.promise, 5000, "second peer close");
    } else {
      expect(second.reason.code).toBe("ECONNREFUSED");
    }
    await within(protocol.waitForMessages(1));
    expect(protocol.received).toEqual(["from the first peer"]);
    expect(protocol.listeningAddress).toBeUndefined();
  });

  test("disconnect() while listening stops the server and removes the socket file", async () => {
    const path = tempPath();
    const protocol = newProtocol();
    await protocol.startServer(path);
    const accepting = protocol.accept().catch((e) => e);
    await protocol.disconnect();
    expect(await accepting).toBeInstanceOf(ConnectError);
    expect(existsSync(path)).toBe(false);
    expect(protocol.runstate).toBe(Runstate.IDLE);
  });
});

describe("sessions that end on their own", () => {
  async function runningPair(opts: { maxMessageBytes?: number } = {}) {
    const path = tempPath();
    const peer = listenPeer({ unix: path });
    cleanups.push(() => peer.stop());
    const protocol = newProtocol();
    await protocol.connect(path, opts);
    return { protocol, socket: await peer.connected, peer };
  }

  async function untilDisconnecting(protocol: LineProtocol) {
    const changes = protocol.runstateChanges();
    if (protocol.runstate === Runstate.RUNNING) {
      for await (const state of changes) if (state === Runstate.DISCONNECTING) break;
    }
    await changes.return?.();
  }

  test("a peer close moves to DISCONNECTING; disconnect() rethrows ConnectionClosedError once", async () => {
    const { protocol, socket } = await runningPair();
    socket.end();
    await within(untilDisconnecting(protocol));
    expect(protocol.runstate).toBe(Runstate.DISCONNECTING);
    const error = await protocol.disconnect().catch((e) => e);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(protocol.runstate).toBe(Runstate.IDLE);
    expect(await protocol.disconnect()).toBeUndefined();
    expect(protocol.sessionEnds).toHaveLength(1);
  });

  test("a peer reset moves to DISCONNECTING; disconnect() rethrows it once", async () => {
    const { protocol, socket } = await runningPair();
    socket.terminate();
    await within(untilDisconnecting(protocol));
    const error = await protocol.disconnect().catch((e) => e);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(await protocol.disconnect()).toBeUndefined();
  });

  test("an undecodable message ends the session; disconnect() rethrows that error", async () => {
    const { protocol, socket } = await runningPair();
    socket.write("fine\nBAD\nnever delivered\n");
    await within(untilDisconnecting(protocol));
    expect(protocol.received).toEqual(["fine"]);
    const error = await protocol.disconnect().catch((e) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.cause.message).toBe("undecodable message");
    await protocol.disconnect();
  });

  test("a message over maxMessageBytes ends the session with a ProtocolError naming the limit", async () => {
    const { protocol, socket } = await runningPair({ maxMessageBytes: 1024 });
    socket.write(`ok\n${"x".repeat(4096)}`);
    await within(untilDisconnecting(protocol));
    expect(protocol.received).toEqual(["ok"]);
    const error = await protocol.disconnect().catch((e) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.code).toBe("QMP_ERR_FRAME_TOO_LARGE");
    expect(error.message).toContain("1024 bytes");
  });

  test("a final unterminated line before EOF is still delivered", async () => {
    const { protocol, socket } = await runningPair();
    socket.end("last words");
    await within(untilDisconnecting(protocol));
    expect(protocol.received).toEqual(["last words"]);
    await protocol.disconnect().catch(() => {});
  });
});

describe("resources", () => {
  test("await using closes the connection; the peer sees the close", async () => {
    const path = tempPath();
    const peer = listenPeer({ unix: path });
    cleanups.push(() => peer.stop());
    {
      await using protocol = new LineProtocol();
      await protocol.connect(path);
      await peer.connected;
    }
    await within(peer.closed, 5000, "peer close");
  });

  test("await using tolerates a clean close by the peer, but not a reset", async () => {
    // TCP, because a unix socket has no reset: its abortive close looks like EOF.
    const peer = listenPeer({ port: 0 });
    cleanups.push(() => peer.stop());
    const protocol = newProtocol();
    await protocol.connect({ host: "127.0.0.1", port: peer.port });
    (await peer.connected).end();
    while (protocol.runstate === Runstate.RUNNING) await protocol.runstateChanged();
    await protocol[Symbol.asyncDispose]();
    expect(protocol.runstate).toBe(Runstate.IDLE);

    await protocol.connect({ host: "127.0.0.1", port: peer.port });
    (await within(peer.waitForConnection(2))).terminate();
    while ((protocol.runstate as Runstate) === Runstate.RUNNING) await protocol.runstateChanged();
    const error = await protocol[Symbol.asyncDispose]().catch((e) => e);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.cause.code).toBe("ECONNRESET");
  });

  test("a process that connects and disconnects exits on its own (no socket, server or timer left)", async () => {
    const path = tempPath();
    const peer = listenPeer({ unix: path });
    cleanups.push(() => peer.stop());
    const script = `
      import { LineProtocol } from ${JSON.stringify(`${import.meta.dir}/helpers.ts`)};
      const p = new LineProtocol();
      await p.connect(${JSON.stringify(path)}, { timeoutMs: 10000 });
      p.sendLine("bye");
      await p.disconnect();
      const s = new LineProtocol();
      await s.startServer(${JSON.stringify(`${path}.srv`)});
      await s.disconnect();
    `;
    await using proc = Bun.spawn([process.execPath, "-e", script], { stderr: "pipe", stdout: "pipe" });
    const exitCode = await within(proc.exited, 10000, "child exit");
    expect(await new Response(proc.stderr).text()).toBe("");
    expect(exitCode).toBe(0);
    expect(peer.receivedText()).toBe("bye\n");
  });
});
