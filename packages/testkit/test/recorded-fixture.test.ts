/**
 * The fake against the QEMU 7.2 recording (fixtures/qemu-7.2-transcript.jsonl): every case of both sessions is
 * sent as recorded, and the fake must answer with the bytes QEMU sent: the same messages, key order, `": "`
 * separators and CRLF (the recording keeps QEMU's key order, so re-encoding it gives QEMU's bytes back).
 * Event timestamps are compared by shape only.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createFakeQemu, encodeQemuJson } from "../src/index.ts";
import { RawPeer } from "./helpers.ts";

interface Case {
  case: string;
  send: string;
  recv: Record<string, unknown>[];
  session: string;
  closed?: boolean;
}

const text = await Bun.file(join(import.meta.dir, "..", "fixtures", "qemu-7.2-transcript.jsonl")).text();
const cases = text
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l) as Case);

const TIMESTAMP = /"timestamp": \{"seconds": \d+, "microseconds": \d+\}/;

function maskTimestamp(line: string): string {
  return line.replace(TIMESTAMP, '"timestamp": T');
}

for (const session of ["main", "oob"]) {
  describe(`recorded session "${session}"`, () => {
    test("every case gets QEMU's exact reply bytes, and quit closes the connection", async () => {
      await using fake = await createFakeQemu();
      const peer = await RawPeer.connect(fake.address);
      const mismatches: { case: string; expected: string[]; got: string[] }[] = [];
      let seen = 0;
      for (const c of cases.filter((x) => x.session === session)) {
        if (c.send) peer.send(c.send);
        const lines = await peer.waitLines(seen + c.recv.length);
        const got = lines.slice(seen).map(maskTimestamp);
        seen += c.recv.length;
        const expected = c.recv.map((m) => maskTimestamp(`${encodeQemuJson(m)}\r\n`));
        if (JSON.stringify(got) !== JSON.stringify(expected))
          mismatches.push({ case: c.case, expected, got });
        for (const line of got)
          if (line.includes('"timestamp"')) expect(line).toMatch(/"timestamp": T, "event"/);
        if (c.closed) await peer.waitClosed();
      }
      expect(mismatches).toEqual([]);
      // Nothing beyond what QEMU sent.
      expect(peer.lines.length).toBe(seen);
    });
  });
}
