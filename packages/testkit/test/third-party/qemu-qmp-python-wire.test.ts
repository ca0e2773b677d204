/**
 * QEMU's own Python client (`qemu.qmp`'s QMPClient) against the fake, without Python: the bytes it writes, as it
 * writes them, and what it needs back. It serialises compactly with no newline, negotiates oob when the greeting
 * offers it (that request has no id), numbers its commands `__qmp#00000`, `__qmp#00001`, …, reads one message per
 * `\n`-terminated line of at most 10 MiB, and treats an error without an id as a server parse failure that ends
 * the session. Checked by hand with qemu.qmp itself against `cli.ts --machine q35` and QEMU 7.2 (same results).
 */
import { afterEach, expect, test } from "bun:test";
import { createFakeQemu } from "../../src/index.ts";
import { RawPeer } from "../helpers.ts";

const READ_LIMIT = 10 * 1024 * 1024;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

test("a qemu.qmp session: oob negotiation, string ids, STOP before the stop reply, errors with their id, the schema on one line", async () => {
  const fake = await createFakeQemu({ machine: "q35" });
  cleanups.push(() => fake.close());
  const peer = await RawPeer.connect(fake.address);
  cleanups.push(() => peer.end());

  const greeting = (await peer.message(0)) as { QMP: { version: object; capabilities: string[] } };
  expect(typeof greeting.QMP.version).toBe("object");
  expect(greeting.QMP.capabilities).toContain("oob");

  peer.send('{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}');
  expect(await peer.message(1)).toEqual({ return: {} });

  peer.send('{"execute":"query-status","id":"__qmp#00000"}');
  expect(await peer.message(2)).toMatchObject({ return: { status: "running" }, id: "__qmp#00000" });

  peer.send('{"execute":"stop","id":"__qmp#00001"}');
  expect(await peer.message(3)).toMatchObject({ event: "STOP" });
  expect(await peer.message(4)).toEqual({ return: {}, id: "__qmp#00001" });

  peer.send('{"execute":"no-such-command","id":"__qmp#00002"}');
  expect(await peer.message(5)).toEqual({
    id: "__qmp#00002",
    error: { class: "CommandNotFound", desc: "The command no-such-command has not been found" },
  });

  peer.send('{"execute":"query-qmp-schema","id":"__qmp#00003"}');
  const schema = (await peer.message(6, 10_000)) as { return: { name: string }[]; id: string };
  expect(schema.id).toBe("__qmp#00003");
  expect(schema.return.some((entry) => entry.name === "query-status")).toBe(true);

  // qemu.qmp's reader: every message a single line, within its buffer limit.
  const lines = await peer.waitLines(7);
  for (const line of lines) {
    expect(line.endsWith("\n")).toBe(true);
    expect(Buffer.byteLength(line)).toBeLessThan(READ_LIMIT);
  }
});
