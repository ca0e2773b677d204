// The Session adapter over @qmpkit/qmp, in-process against fakes the tests start (real unix sockets).
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@qmpkit/qmp";
import { createFakeQemu, type FakeQemu } from "@qmpkit/testkit";
import { ClientSession } from "../src/client-session.ts";
import {
  ConnectionFailedError,
  ConnectionLostError,
  exitCodeFor,
  isExecuteError,
  MessageRefusedError,
} from "../src/errors.ts";
import { openClient, type Session } from "../src/session.ts";
import { within } from "./harness.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fakeAndSession(): Promise<{ fake: FakeQemu; session: Session }> {
  const fake = await createFakeQemu();
  cleanups.push(() => fake.close());
  const path = fake.path as string;
  const session = await openClient({ kind: "address", address: { kind: "unix", path } }, {});
  cleanups.push(() => session.close().catch(() => {}));
  return { fake, session };
}

async function collect<T>(iterable: AsyncIterable<T>, count = Number.POSITIVE_INFINITY): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) {
    out.push(item);
    if (out.length >= count) break;
  }
  return out;
}

describe("openClient over a unix socket", () => {
  test("execute resolves with the return value; an error reply is an ExecuteError (exit 1)", async () => {
    const { session } = await fakeAndSession();
    expect(await session.execute("query-status")).toEqual({
      status: "running",
      singlestep: false,
      running: true,
    });
    const error = await session.execute("no-such-command").catch((e: unknown) => e);
    expect(isExecuteError(error)).toBe(true);
    expect(error).toMatchObject({
      errorClass: "CommandNotFound",
      desc: "The command no-such-command has not been found",
    });
    expect(exitCodeFor(error)).toBe(1);
  });

  test("sendRaw resolves with the whole reply; a message the client cannot match is refused unsent", async () => {
    const { fake, session } = await fakeAndSession();
    expect(await session.sendRaw({ execute: "query-name", id: "n1" })).toEqual({ return: {}, id: "n1" });
    const refused = await session.sendRaw({ execute: "query-status", id: 7 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MessageRefusedError);
    expect((refused as Error).message).toContain('"id" must be a string');
    expect(fake.received.some((r) => JSON.stringify(r.message).includes('"id":7'))).toBe(false);
  });

  test("integers beyond 2^53 given as JSON.rawJSON reach the server digit for digit", async () => {
    const { fake, session } = await fakeAndSession();
    fake.handle("x-echo", (args) => args, { validate: false });
    const raw = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON("18446744073709551615");
    await session.execute("x-echo", { v: raw });
    const sent = await fake.waitFor("x-echo", { timeoutMs: 2000 });
    expect(sent.raw).toContain('"v":18446744073709551615');
  });

  test("events are filtered by name, and the stream ends when QEMU quits", async () => {
    const { session } = await fakeAndSession();
    const stream = collect(session.events({ names: ["SHUTDOWN", "STOP"] }));
    await session.execute("stop");
    await session.execute("cont");
    await session.execute("quit");
    const events = await within(stream, 5000, "the end of the event stream after quit");
    expect(events.map((e) => e.event)).toEqual(["STOP", "SHUTDOWN"]);
    await session.close(); // a quit is a clean end: nothing to report
  });

  test("an abort ends the event stream", async () => {
    const { session } = await fakeAndSession();
    const stop = new AbortController();
    const stream = collect(session.events({ signal: stop.signal }));
    stop.abort();
    expect(await within(stream, 2000, "the end of the event stream after abort")).toEqual([]);
  });

  test("QEMU killed mid-session: the next command and close() say the connection is gone", async () => {
    const { fake, session } = await fakeAndSession();
    const ended = collect(session.events());
    await fake.kill();
    await within(ended, 5000, "the end of the event stream after the kill");
    const error = await session.execute("query-status").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect((error as Error).message).toMatch(
      /^the connection to unix:.*qmp\.sock is closed; 'query-status' was not sent$/,
    );
    const closing = await session.close().catch((e: unknown) => e);
    expect(closing).toBeInstanceOf(ConnectionLostError);
    expect(exitCodeFor(closing)).toBe(2);
  });

  // The end-of-session signal is made by events(): a one-shot command must not pay for watching the runstate.
  test("a session that never reads events never watches the runstate; one that reads them late still ends", async () => {
    const fake = await createFakeQemu();
    cleanups.push(() => fake.close());
    const client = await connect(fake.path as string);
    let watches = 0;
    const runstateChanges = client.runstateChanges.bind(client);
    client.runstateChanges = () => {
      watches++;
      return runstateChanges();
    };
    const oneShot = new ClientSession(client, "the fake");
    await oneShot.execute("query-status");
    await oneShot.close();
    expect(watches).toBe(0);
    // events() first asked for after the session ended: the stream ends at once instead of waiting forever.
    expect(await within(collect(oneShot.events()), 2000, "the end of a late event stream")).toEqual([]);

    const { session } = await fakeAndSession();
    await session.execute("quit");
    const late = await within(collect(session.events()), 2000, "the end of the event stream after quit");
    expect(late.map((e) => e.event)).toEqual(["SHUTDOWN"]); // buffered before the end, so still delivered
  });

  test("nothing listening: ConnectionFailedError naming the address and the cause, exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qmpkit-cli-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "absent.sock");
    const error = await openClient({ kind: "address", address: { kind: "unix", path } }, {}).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectionFailedError);
    expect((error as Error).message).toBe(
      `cannot connect to unix:${path}: Failed to establish connection: ENOENT: Failed to connect (no socket at that path; is QEMU running with -qmp?)`,
    );
    expect((error as Error).cause).toMatchObject({ code: "ENOENT" });
    expect(exitCodeFor(error)).toBe(2);
  });
});

describe("openClient --fake", () => {
  test("serves the recorded schema, query-commands and a QOM tree, and removes its socket on close", async () => {
    const session = await openClient({ kind: "fake" }, {});
    cleanups.push(() => session.close());
    expect(session.greeting).toMatchObject({ QMP: { version: { qemu: { major: 7, minor: 2 } } } });
    const schema = (await session.execute("query-qmp-schema")) as unknown[];
    expect(schema.length).toBe(1051);
    const commands = (await session.execute("query-commands")) as { name: string }[];
    expect(commands.map((c) => c.name)).toContain("blockdev-add");
    expect(await session.execute("qom-list", { path: "/" })).toEqual([
      { name: "type", type: "string" },
      { name: "machine", type: "child<none-machine>" },
      { name: "chardevs", type: "child<container>" },
    ]);
    expect(await session.execute("qom-get", { path: "/machine", property: "type" })).toBe("none-machine");
    const missing = await session.execute("qom-list", { path: "/nope" }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ errorClass: "DeviceNotFound", desc: "Device '/nope' not found" });
  });

  test("the embedded fake is reached in process and creates nothing on disk, before or after close()", async () => {
    // A socket would go in a dir under os.tmpdir(), which reads TMPDIR on every call: point it at a dir of ours.
    const parent = mkdtempSync(join(tmpdir(), "qmpkit-cli-"));
    cleanups.push(() => rmSync(parent, { recursive: true, force: true }));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = parent;
    let session: Session;
    try {
      session = await openClient({ kind: "fake" }, {});
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    expect(readdirSync(parent)).toEqual([]);
    expect(await session.execute("query-status")).toMatchObject({ status: "running" });
    await session.close();
    expect(readdirSync(parent)).toEqual([]);
  });
});
