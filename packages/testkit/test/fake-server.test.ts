/**
 * The fake's own surface: where it listens and how safely, the scripting API (handle, emit, received, waitFor,
 * clients), handler contexts, one-client vs multi-client, quit, and options. Raw sockets where the bytes matter,
 * @qmpkit/qmp where the behaviour does.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ConnectError, connect, type ExecuteError, type QMPClient, TimeoutError } from "@qmpkit/qmp";
import { createFakeQemu, type FakeQemu, FakeQemuError, QMPCommandError } from "../src/index.ts";
import { RawPeer, within } from "./helpers.ts";

const BOUND = 5000;
const fakes: FakeQemu[] = [];
const clients: QMPClient[] = [];

async function fakeQemu(options: Parameters<typeof createFakeQemu>[0] = {}): Promise<FakeQemu> {
  const fake = await createFakeQemu(options);
  fakes.push(fake);
  return fake;
}

async function client(address: string, options: Parameters<typeof connect>[1] = {}): Promise<QMPClient> {
  const c = await within(connect(address, options), BOUND, "connect");
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.disconnect().catch(() => {});
  for (const f of fakes.splice(0)) await f.close();
});

describe("device_add", () => {
  // Real QEMU 7.2 (-machine none) answers device_add driver=e1000 netdev=n0 with "No 'PCI' bus found for device
  // 'e1000'": the properties pass the QMP argument check, and the device layer refuses. The fake must not refuse
  // them as "Parameter 'netdev' is unexpected".
  test("passes device properties the schema does not list to the handler, and still checks listed members", async () => {
    const fake = await fakeQemu();
    fake.handle("device_add", (args) => ({ echoed: args }) as never);
    const c = await client(fake.address);
    const args = { driver: "e1000", id: "nic0", netdev: "n0" };
    expect(await c.executeUntyped("device_add", args)).toEqual({ echoed: args });
    const error = (await c.executeUntyped("device_add", { driver: 5 }).catch((e) => e)) as ExecuteError;
    expect(error.errorClass).toBe("GenericError");
    expect(error.desc).toBe("Invalid parameter type for 'driver', expected: string");
  });
});

describe("listening", () => {
  test("unix: a 0600 socket in a fresh 0700 dir, both removed by close()", async () => {
    const fake = await fakeQemu();
    const path = fake.path as string;
    expect(fake.address).toBe(`unix:${path}`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
    await fake.close();
    expect(existsSync(dirname(path))).toBe(false);
  });

  test("tcp: 127.0.0.1 on a free port, usable by the client as is", async () => {
    const fake = await fakeQemu({ tcp: true });
    expect(fake.address).toBe(`tcp:127.0.0.1:${fake.port}`);
    const c = await client(fake.address);
    expect((await c.execute("query-status")).status).toBe("running");
  });

  test("explicit path: a stale socket is replaced, a regular file is never deleted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qmpkit-test-"));
    try {
      const path = join(dir, "qmp.sock");
      const first = await createFakeQemu({ path });
      // Simulate a crashed owner: the listener goes, a socket file would stay behind; a new fake takes over.
      const second = await fakeQemu({ path });
      await first.close().catch(() => {});
      expect(second.address).toBe(`unix:${path}`);
      await second.close();
      const file = join(dir, "file");
      writeFileSync(file, "precious");
      expect(createFakeQemu({ path: file })).rejects.toBeInstanceOf(FakeQemuError);
      expect(existsSync(file)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("close() is idempotent, ends clients, and works through await using", async () => {
    let path: string;
    {
      await using fake = await createFakeQemu();
      path = fake.path as string;
      const peer = await RawPeer.connect(fake.address);
      await peer.waitLines(1);
      await Promise.all([fake.close(), fake.close()]);
      await peer.waitClosed();
    }
    expect(existsSync(path)).toBe(false);
  });
});

describe("wire format", () => {
  test("the greeting is QEMU's exact bytes, CRLF-terminated", async () => {
    const fake = await fakeQemu();
    const peer = await RawPeer.connect(fake.address);
    expect((await peer.waitLines(1))[0]).toBe(
      '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}\r\n',
    );
    peer.end();
  });

  // QEMU's lexer cuts a token at the size limit and refuses it, then lexes the rest afresh: the rest of the
  // string is read as over-long keywords (refused the same way), the closing quote opens a string that the
  // newline breaks, and recovery resynchronises at the next '{'. The limit is 64 MiB in QEMU; maxLineBytes
  // makes it small enough to test.
  test("a token over maxLineBytes gets QEMU's token-size error and the session goes on", async () => {
    const fake = await fakeQemu({ maxLineBytes: 1024 });
    const peer = await RawPeer.connect(fake.address);
    await peer.negotiate();
    peer.send(`"${"x".repeat(4096)}`);
    await peer.waitLines(3);
    peer.send(`${"x".repeat(100)}"\n{"execute": "query-kvm", "id": 1}\n`);
    const errors = [
      ...Array(4).fill("JSON token size limit exceeded"),
      `JSON parse error, invalid keyword '${"x".repeat(97)}'`,
      `JSON parse error, stray '"\n'`,
    ];
    const lines = await peer.waitLines(2 + errors.length + 1);
    expect(lines.slice(2, -1).map((line) => JSON.parse(line).error.desc)).toEqual(errors);
    expect(JSON.parse(lines.at(-1) as string)).toEqual({ return: { enabled: false, present: true }, id: 1 });
    peer.end();
  });
});

describe("scripting", () => {
  test("handle() overrides a built-in and adds a command; args arrive parsed", async () => {
    const fake = await fakeQemu();
    fake.handle("query-name", () => ({ name: "vm1" }));
    fake.handle("x-echo", (args) => ({ got: args }));
    const c = await client(fake.address);
    expect(await c.execute("query-name")).toEqual({ name: "vm1" });
    expect(await c.executeUntyped("x-echo", { a: [1, "b"] })).toEqual({ got: { a: [1, "b"] } });
  });

  test("a handler's events go out before its reply; undefined returns {}", async () => {
    const fake = await fakeQemu();
    fake.handle("x-work", (_args, ctx) => {
      ctx.emit("JOB_STATUS_CHANGE", { id: "j1", status: "concluded" });
    });
    const c = await client(fake.address);
    using listener = c.listen({ names: ["JOB_STATUS_CHANGE"] });
    expect(await c.executeUntyped("x-work")).toEqual({});
    expect(listener.empty()).toBe(false);
    expect((await listener.get()).data).toEqual({ id: "j1", status: "concluded" });
  });

  test("ctx.fail and a thrown QMPCommandError send QMP errors; another exception is a GenericError and recorded", async () => {
    const fake = await fakeQemu();
    fake.handle("x-fail", (_a, ctx) => ctx.fail("DeviceNotFound", "Device 'nic0' not found"));
    fake.handle("x-throw", () => {
      throw new QMPCommandError("GenericError", "Duplicate ID 'nic0' for device");
    });
    fake.handle("x-bug", async () => {
      throw new Error("oops in the test's handler");
    });
    const c = await client(fake.address);
    const errorOf = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: ExecuteError) => [e.errorClass, e.desc],
      );
    expect(await errorOf(c.executeUntyped("x-fail"))).toEqual(["DeviceNotFound", "Device 'nic0' not found"]);
    expect(await errorOf(c.executeUntyped("x-throw"))).toEqual([
      "GenericError",
      "Duplicate ID 'nic0' for device",
    ]);
    expect(await errorOf(c.executeUntyped("x-bug"))).toEqual(["GenericError", "oops in the test's handler"]);
    expect(fake.errors.map((e) => e.command)).toEqual(["x-bug"]);
  });

  test("handle(..., { allowOob }) decides whether exec-oob may run the command", async () => {
    const fake = await fakeQemu();
    fake.handle("x-fast", () => "fast", { allowOob: true });
    fake.handle("x-slow", () => "slow");
    const c = await client(fake.address);
    expect(await c.executeUntyped("x-fast", undefined, { oob: true })).toBe("fast");
    const refused = await c
      .executeUntyped("x-slow", undefined, { oob: true })
      .catch((e: ExecuteError) => e.desc);
    expect(refused).toBe("The command x-slow does not support OOB");
  });

  // handle() leaves the schema unread; what it says of the command is read when the command is first called.
  test("handle() on a schema command: allow-oob and the argument checks come from the schema unless told", async () => {
    const fake = await fakeQemu();
    fake.handle("query-yank", () => []);
    fake.handle("query-status", () => ({ status: "running", singlestep: false, running: true }));
    fake.handle("query-name", (args) => ({ name: JSON.stringify(args) }), { validate: false });
    const c = await client(fake.address);
    expect(await c.executeUntyped("query-yank", undefined, { oob: true })).toEqual([]);
    const unexpected = await c.executeUntyped("query-status", { foo: 1 }).catch((e: ExecuteError) => e.desc);
    expect(unexpected).toBe("Parameter 'foo' is unexpected");
    expect(await c.executeUntyped("query-name", { foo: 1 })).toEqual({ name: '{"foo":1}' });
  });

  test("a schema command the fake does not emulate: QEMU's argument checks, then a loud error", async () => {
    const fake = await fakeQemu();
    const c = await client(fake.address);
    const bad = await c.executeUntyped("set_link", { up: true }).catch((e: ExecuteError) => e.desc);
    expect(bad).toBe("Parameter 'name' is missing");
    const unimplemented = await c
      .executeUntyped("set_link", { name: "nic0", up: true })
      .catch((e: ExecuteError) => e.desc);
    expect(unimplemented).toContain("not implemented");
    expect(fake.errors).toHaveLength(1);
    // Scripting it makes it work, with QEMU's argument checks kept.
    fake.handle("set_link", () => ({}));
    expect(await c.executeUntyped("set_link", { name: "nic0", up: true })).toEqual({});
    expect(await c.executeUntyped("set_link", { name: 5, up: true }).catch((e: ExecuteError) => e.desc)).toBe(
      "Invalid parameter type for 'name', expected: string",
    );
  });

  test("received keeps every message with its client and raw text; waitFor finds past and future ones", async () => {
    const fake = await fakeQemu();
    const c = await client(fake.address);
    await c.execute("query-status");
    const past = await fake.waitFor("query-status");
    expect(past.client).toBe(1);
    expect((past.message as { execute: string }).execute).toBe("query-status");
    expect(past.raw).toContain('"query-status"');
    const future = fake.waitFor("stop");
    await c.execute("stop");
    expect(((await future).message as { execute: string }).execute).toBe("stop");
    const second = fake.waitFor("query-status", { count: 2 });
    await c.execute("query-status");
    expect((await second).at).toBeGreaterThanOrEqual(past.at);
    expect(fake.received.map((r) => (r.message as { execute: string }).execute)).toEqual([
      "qmp_capabilities",
      "query-status",
      "stop",
      "query-status",
    ]);
  });

  test("waitFor rejects with TimeoutError after timeoutMs, and with FakeQemuError when the fake closes", async () => {
    const fake = await fakeQemu();
    expect(fake.waitFor("never", { timeoutMs: 20 })).rejects.toBeInstanceOf(TimeoutError);
    const pending = fake.waitFor("never", { timeoutMs: 60_000 });
    await fake.close();
    expect(pending).rejects.toBeInstanceOf(FakeQemuError);
  });

  test("received records parse errors with QEMU's text", async () => {
    const fake = await fakeQemu();
    const peer = await RawPeer.connect(fake.address);
    await peer.negotiate();
    peer.send('{"execute": }\n');
    await peer.waitLines(3);
    expect(fake.received.at(-1)).toMatchObject({
      message: undefined,
      error: "JSON parse error, expecting value",
    });
    peer.end();
  });

  test("fake.emit reaches clients in command mode only", async () => {
    const fake = await fakeQemu({ multiClient: true });
    const negotiated = await client(fake.address);
    const raw = await RawPeer.connect(fake.address);
    await raw.waitLines(1);
    using listener = negotiated.listen({ names: ["DEVICE_DELETED"] });
    fake.emit("DEVICE_DELETED", { device: "nic0", path: "/machine/peripheral/nic0" });
    expect((await within(listener.get(), BOUND)).data).toEqual({
      device: "nic0",
      path: "/machine/peripheral/nic0",
    });
    // The raw peer is still negotiating: a command round trip proves no event was queued before the reply.
    raw.send('{"execute": "qmp_capabilities", "id": 1}\n');
    expect(await raw.message(1)).toEqual({ return: {}, id: 1 });
    raw.end();
  });

  test("status is settable and drives query-status, stop/cont and HMP", async () => {
    const fake = await fakeQemu({ status: "paused", name: "guest-a" });
    const c = await client(fake.address);
    expect(await c.execute("query-status")).toEqual({ status: "paused", singlestep: false, running: false });
    expect(await c.execute("query-name")).toEqual({ name: "guest-a" });
    fake.status = "running";
    expect(await c.execute("human-monitor-command", { "command-line": "info status" })).toBe(
      "VM status: running\r\n",
    );
  });

  test("capabilities: [] offers no oob, and enabling it is refused as QEMU words it", async () => {
    const fake = await fakeQemu({ capabilities: [] });
    const c = await client(fake.address, { negotiate: false });
    expect(c.greeting?.QMP.capabilities).toEqual([]);
    expect(
      await c.executeRaw({ execute: "qmp_capabilities", arguments: { enable: ["oob"] }, id: "c" }),
    ).toEqual({
      id: "c",
      error: { class: "GenericError", desc: "Capability oob not available" },
    } as never);
  });
});

describe("handler context", () => {
  test("hang(): the command never answers and later in-band commands queue, but exec-oob still runs", async () => {
    const fake = await fakeQemu();
    fake.handle("x-hang", (_a, ctx) => ctx.hang());
    const c = await client(fake.address);
    const hung = c.executeUntyped("x-hang", undefined, { timeoutMs: 100 }).catch((e: unknown) => e);
    const queued = c.execute("query-status", undefined, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(await within(c.executeUntyped("query-yank", undefined, { oob: true }), BOUND)).toEqual([
      { type: "chardev", id: "compat_monitor0" },
    ]);
    expect(await hung).toBeInstanceOf(TimeoutError);
    expect(await queued).toBeInstanceOf(TimeoutError);
  });

  test("disconnect() closes cleanly without a reply; reset() drops the connection", async () => {
    const fake = await fakeQemu();
    fake.handle("x-bye", (_a, ctx) => ctx.disconnect());
    fake.handle("x-crash", (_a, ctx) => ctx.reset());
    for (const command of ["x-bye", "x-crash"]) {
      const c = await client(fake.address);
      const error = await within(
        c.executeUntyped(command).catch((e: unknown) => e),
        BOUND,
      );
      expect((error as Error).name).toBe("ExecInterruptedError");
      await c.disconnect().catch(() => {});
    }
  });

  test("sendRaw() writes ahead of the reply; closeAfterReply() closes after it", async () => {
    const fake = await fakeQemu();
    fake.handle("x-raw", (_a, ctx) => {
      ctx.sendRaw('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RAW"}\r\n');
      ctx.closeAfterReply();
      return 7;
    });
    const peer = await RawPeer.connect(fake.address);
    await peer.negotiate();
    peer.send('{"execute": "x-raw", "id": "r"}\n');
    const lines = await peer.waitLines(4);
    expect(lines.slice(2)).toEqual([
      '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RAW"}\r\n',
      '{"return": 7, "id": "r"}\r\n',
    ]);
    await peer.waitClosed();
  });
});

describe("clients", () => {
  test("one client at a time: the second waits ungreeted, and is served once the first leaves", async () => {
    const fake = await fakeQemu();
    const first = await RawPeer.connect(fake.address);
    await first.negotiate();
    const second = await RawPeer.connect(fake.address);
    second.send('{"execute": "qmp_capabilities", "id": "early"}\n');
    // A round trip on the first client proves the second has been accepted and left waiting.
    first.send('{"execute": "query-kvm", "id": 1}\n');
    await first.waitLines(3);
    expect(fake.clients.map((c) => c.phase)).toEqual(["command", "waiting"]);
    expect(second.lines).toEqual([]);
    first.end();
    // Then it is greeted, and what it sent while waiting is answered.
    const lines = await second.waitLines(2);
    expect(JSON.parse(lines[0] as string)).toHaveProperty("QMP");
    expect(JSON.parse(lines[1] as string)).toEqual({ return: {}, id: "early" });
    second.end();
  });

  test("multiClient: every client is greeted at once and negotiates on its own", async () => {
    const fake = await fakeQemu({ multiClient: true });
    const a = await client(fake.address, { oob: true });
    const b = await client(fake.address, { oob: false });
    expect(a.capabilities).toEqual(["oob"]);
    expect(b.capabilities).toEqual([]);
    expect(fake.clients.map((c) => [c.id, c.phase, c.oob])).toEqual([
      [1, "command", true],
      [2, "command", false],
    ]);
  });
});

describe("quit", () => {
  test("onQuit 'exit' (default): after SHUTDOWN and the reply the fake stops listening", async () => {
    const fake = await fakeQemu();
    const c = await client(fake.address);
    expect(await c.execute("quit")).toEqual({});
    await within(fake.exited, BOUND, "fake exit");
    const refused = await connect(fake.address).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConnectError);
  });

  test("onQuit 'close-client': only the asking client is closed; the fake keeps serving", async () => {
    const fake = await fakeQemu({ onQuit: "close-client" });
    const c = await client(fake.address);
    await c.execute("quit");
    await c.disconnect();
    const again = await client(fake.address);
    expect((await again.execute("query-status")).status).toBe("shutdown");
  });
});

describe("bench commands", () => {
  test("bench-events pushes N BENCH events with n = 0..N-1, then returns {}", async () => {
    const fake = await fakeQemu({ benchCommands: true });
    const c = await client(fake.address);
    using listener = c.listen({ names: ["BENCH"], highWaterMark: 10_000 });
    expect(await within(c.executeUntyped("bench-events", { count: 5000 }), BOUND)).toEqual({});
    for (let n = 0; n < 5000; n++) expect((await listener.get()).data).toEqual({ n });
  });

  test("bench-events does not exist unless benchCommands is on", async () => {
    const fake = await fakeQemu();
    const c = await client(fake.address);
    const error = await c
      .executeUntyped("bench-events", { count: 1 })
      .catch((e: ExecuteError) => e.errorClass);
    expect(error).toBe("CommandNotFound");
  });
});
