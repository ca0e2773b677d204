// The fake guest agent's own behaviour, and its fidelity: the same raw bytes go to the fake and to a real qemu-ga,
// and the replies must be byte-identical (the real half is skipped without qemu-ga, and fails under CI=true).

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { createFakeQGA } from "../src/qga/fake-qga.ts";
import { spawnQemuGa } from "../src/qga/spawn-qemu-ga.ts";
import { cleanupList, requireQemuGa, skipWithoutQemuGa, within } from "./qga-helpers.ts";

const cleanups = cleanupList();
afterEach(() => cleanups.run());

/** Sends `input` on a fresh raw connection and returns the bytes received once `lines` replies arrived. */
async function exchange(address: string, input: string | Uint8Array, lines: number): Promise<string> {
  const chunks: Buffer[] = [];
  let newlines = 0;
  const done = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    unix: address,
    socket: {
      data(_socket, chunk) {
        chunks.push(Buffer.from(chunk));
        for (const byte of chunk) if (byte === 0x0a) newlines++;
        if (newlines >= lines) done.resolve();
      },
      close() {
        done.resolve();
      },
    },
  });
  try {
    socket.write(input);
    await within(done.promise, 5000, `${lines} replies to ${JSON.stringify(String(input)).slice(0, 80)}`);
    return Buffer.concat(chunks).toString("latin1");
  } finally {
    socket.end();
  }
}

const ff = (text: string): Uint8Array => Buffer.concat([Buffer.from([0xff]), Buffer.from(text)]);

// Inputs whose replies do not depend on the machine, with how many reply lines each produces.
const CASES: { name: string; input: string | Uint8Array; lines: number }[] = [
  { name: "a lone 0xFF", input: ff(""), lines: 1 },
  {
    name: "0xFF then guest-sync-delimited",
    input: ff('{"execute":"guest-sync-delimited","arguments":{"id":12345}}\n'),
    lines: 2,
  },
  {
    name: "half a word, then 0xFF",
    input: Buffer.concat([Buffer.from('{"execute":"guest-ping","arguments":{"x":tru'), ff("")]),
    lines: 1,
  },
  {
    name: "half an escape, then 0xFF",
    input: Buffer.concat([Buffer.from('{"execute":"a\\'), ff("")]),
    lines: 1,
  },
  {
    name: "half a command, then 0xFF",
    input: Buffer.concat([Buffer.from('{"execute":"guest-pi'), ff('{"execute":"guest-ping"}\n')]),
    lines: 2,
  },
  { name: "guest-sync", input: '{"execute":"guest-sync","arguments":{"id":-5}}\n', lines: 1 },
  { name: "guest-ping", input: '{"execute":"guest-ping"}\n', lines: 1 },
  { name: "guest-ping with an id", input: '{"execute":"guest-ping","id":5}\n', lines: 1 },
  { name: "an unexpected argument", input: '{"execute":"guest-ping","arguments":{"x":1}}\n', lines: 1 },
  { name: "a missing argument", input: '{"execute":"guest-sync-delimited"}\n', lines: 1 },
  { name: "a mistyped argument", input: '{"execute":"guest-sync","arguments":{"id":"x"}}\n', lines: 1 },
  { name: "an unknown command", input: '{"execute":"guest-nope"}\n', lines: 1 },
  { name: "an unknown command with an id", input: '{"execute":"guest-nope","id":"a"}\n', lines: 1 },
  { name: "not an object", input: "[1,2]\n", lines: 1 },
  { name: "no execute", input: "{}\n", lines: 1 },
  { name: "an unexpected member", input: '{"foo":1}\n', lines: 1 },
  { name: "a non-string execute", input: '{"execute":1}\n', lines: 1 },
  { name: "non-object arguments", input: '{"execute":"guest-ping","arguments":5}\n', lines: 1 },
  { name: "a bare word", input: "garbage\n", lines: 1 },
  {
    name: "guest-shutdown with a bad mode",
    input: '{"execute":"guest-shutdown","arguments":{"mode":"bogus"}}\n',
    lines: 1,
  },
  {
    name: "guest-shutdown with a mistyped mode",
    input: '{"execute":"guest-shutdown","arguments":{"mode":5}}\n',
    lines: 1,
  },
  { name: "guest-fsfreeze-status", input: '{"execute":"guest-fsfreeze-status"}\n', lines: 1 },
  { name: "guest-fsfreeze-thaw while thawed", input: '{"execute":"guest-fsfreeze-thaw"}\n', lines: 1 },
];

describe.skipIf(skipWithoutQemuGa)("the fake answers byte for byte like qemu-ga", () => {
  test.each(CASES)("$name", async ({ input, lines }) => {
    requireQemuGa();
    const real = await spawnQemuGa();
    cleanups.add(() => real.kill());
    const fake = await createFakeQGA();
    cleanups.add(() => fake.close());
    const expected = await exchange(real.address, input, lines);
    expect(await exchange(fake.address, input, lines)).toBe(expected);
  });

  test("guest-info and guest-get-osinfo shapes: same members in the same order", async () => {
    requireQemuGa();
    const real = await spawnQemuGa();
    cleanups.add(() => real.kill());
    const fake = await createFakeQGA();
    cleanups.add(() => fake.close());
    const keysOf = (text: string, pick: (value: Record<string, unknown>) => unknown): string[] =>
      Object.keys(pick(JSON.parse(text)) as object);
    const info = '{"execute":"guest-info"}\n';
    const firstCommand = (v: Record<string, unknown>) =>
      ((v.return as Record<string, unknown>).supported_commands as object[])[0];
    expect(keysOf(await exchange(fake.address, info, 1), firstCommand)).toEqual(
      keysOf(await exchange(real.address, info, 1), firstCommand),
    );
    expect(keysOf(await exchange(fake.address, info, 1), (v) => v.return)).toEqual([
      "version",
      "supported_commands",
    ]);
    const osinfo = '{"execute":"guest-get-osinfo"}\n';
    const realOs = keysOf(await exchange(real.address, osinfo, 1), (v) => v.return);
    const fakeOs = keysOf(await exchange(fake.address, osinfo, 1), (v) => v.return);
    // A real guest may lack some os-release fields; those it has come in the fake's order.
    expect(fakeOs.filter((key) => realOs.includes(key))).toEqual(
      realOs.filter((key) => fakeOs.includes(key)),
    );
  });
});

describe("the fake on its own", () => {
  test("serves several clients at once and numbers them; records every command with its client", async () => {
    const fake = await createFakeQGA();
    cleanups.add(() => fake.close());
    await exchange(fake.address, '{"execute":"guest-ping"}\n', 1);
    await exchange(fake.address, '{"execute":"guest-sync","arguments":{"id":3}}\n', 1);
    expect(fake.received.map((c) => [c.client, c.execute])).toEqual([
      [1, "guest-ping"],
      [2, "guest-sync"],
    ]);
  });

  test("a handler's return value, thrown QMPCommandError and noReply", async () => {
    const fake = await createFakeQGA();
    cleanups.add(() => fake.close());
    fake.handle("guest-get-host-name", () => ({ "host-name": "vm1" }));
    fake.handle("guest-get-users", (_args, ctx) => ctx.noReply);
    expect(await exchange(fake.address, '{"execute":"guest-get-host-name"}\n', 1)).toBe(
      '{"return": {"host-name": "vm1"}}\n',
    );
    // The silent command gets nothing; the ping behind it still gets its answer.
    expect(await exchange(fake.address, '{"execute":"guest-get-users"}\n{"execute":"guest-ping"}\n', 1)).toBe(
      '{"return": {}}\n',
    );
  });

  test("close() removes the socket's temp dir and is idempotent", async () => {
    const fake = await createFakeQGA();
    expect(existsSync(fake.address)).toBe(true);
    await fake.close();
    await fake.close();
    expect(existsSync(fake.address)).toBe(false);
    expect(existsSync(`${fake.address}/..`)).toBe(false);
  });
});
