/** Runstate: stop/cont/system_reset/system_powerdown/quit with QEMU's events and errors, QMP and HMP. */
import { expect, test } from "bun:test";
import type { ExecuteError } from "@qmpkit/qmp";
import { createFakeQemu } from "../../src/index.ts";
import { RawPeer } from "../helpers.ts";
import { fakeSession } from "./fake-session.ts";

async function setup(options: Parameters<typeof fakeSession>[0] = {}) {
  const { fake, client } = await fakeSession(options);
  const hmp = (line: string) => client.executeUntyped("human-monitor-command", { "command-line": line });
  return { fake, client, hmp };
}

test("stop pauses once (a second stop sends no event), cont resumes once", async () => {
  const { fake, client } = await setup();
  const events = client.listen({ names: ["STOP", "RESUME"] });
  await client.execute("stop");
  await client.execute("stop");
  expect(fake.status).toBe("paused");
  expect(await client.execute("query-status")).toEqual({
    status: "paused",
    singlestep: false,
    running: false,
  });
  await client.execute("cont");
  await client.execute("cont");
  expect(fake.status).toBe("running");
  expect((await events.get()).event).toBe("STOP");
  expect((await events.get()).event).toBe("RESUME");
  expect(events.empty()).toBe(true);
});

test("cont after shutdown needs a reset, with QEMU's error", async () => {
  const { client } = await setup({ status: "shutdown" });
  const error = (await client.execute("cont").catch((e) => e)) as ExecuteError;
  expect(error.desc).toBe("Resetting the Virtual Machine is required");
});

test("system_reset and system_powerdown send RESET and POWERDOWN", async () => {
  const { client } = await setup();
  const events = client.listen({ names: ["RESET", "POWERDOWN"] });
  await client.execute("system_reset");
  await client.execute("system_powerdown");
  expect(await events.get()).toMatchObject({
    event: "RESET",
    data: { guest: false, reason: "host-qmp-system-reset" },
  });
  expect((await events.get()).event).toBe("POWERDOWN");
});

test("HMP stop, cont and info status drive the same state", async () => {
  const { fake, hmp } = await setup();
  expect(await hmp("stop")).toBe("");
  expect(fake.status).toBe("paused");
  expect(await hmp("info status")).toBe("VM status: paused\r\n");
  expect(await hmp("c")).toBe("");
  expect(await hmp("info status")).toBe("VM status: running\r\n");
});

test("quit: SHUTDOWN, then the reply, then the fake exits", async () => {
  await using fake = await createFakeQemu();
  const peer = await RawPeer.connect(fake.address);
  await peer.negotiate();
  peer.sendJson({ execute: "quit", id: "q" });
  const [, , event, reply] = await peer.waitLines(4);
  expect(JSON.parse(event as string)).toMatchObject({
    event: "SHUTDOWN",
    data: { guest: false, reason: "host-qmp-quit" },
  });
  expect(reply).toBe('{"return": {}, "id": "q"}\r\n');
  await peer.waitClosed();
  await fake.exited;
});
