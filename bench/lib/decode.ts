/**
 * Workload 6: framing cost. A QMP-shaped byte stream (replies and events,
 * `\r\n`-terminated, like QEMU's) cut into 64 KiB chunks, as a socket would
 * deliver it. Contenders frame it and JSON.parse every message.
 */
import { forEachLine } from "../baseline/raw-bun.ts";
import type { DecoderContender } from "./contender.ts";

export const CHUNK_BYTES = 64 * 1024;

export interface Stream {
  readonly chunks: readonly Uint8Array[];
  readonly bytes: number;
  readonly lines: number;
}

function line(i: number): string {
  switch (i % 4) {
    case 0:
      return `{"return": {"status": "running", "singlestep": false, "running": true}, "id": ${i}}\r\n`;
    case 1:
      return `{"event": "BENCH", "data": {"n": ${i}}, "timestamp": {"seconds": 1, "microseconds": 2}}\r\n`;
    case 2:
      return `{"return": [{"thread-id": ${i}, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"}], "id": "lbl-${i}"}\r\n`;
    default:
      return `{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit \\"é\\""}, "timestamp": {"seconds": ${i}, "microseconds": 5}}\r\n`;
  }
}

/** About `targetBytes` of whole lines, as chunks that split lines anywhere. */
export function makeStream(targetBytes: number): Stream {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  let bytes = 0;
  let lines = 0;
  while (bytes < targetBytes) {
    let batch = "";
    for (let k = 0; k < 1000; k++) batch += line(lines++);
    const encoded = encoder.encode(batch);
    parts.push(encoded);
    bytes += encoded.length;
  }
  const all = Buffer.concat(parts);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < all.length; at += CHUNK_BYTES) chunks.push(all.subarray(at, at + CHUNK_BYTES));
  return { chunks, bytes: all.length, lines };
}

const asBuffer = (c: Uint8Array): Buffer =>
  Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);

/** Framing only: lines as strings, nothing parsed (the floor for a framer). */
export const splitOnly: DecoderContender = {
  name: "raw Bun: split only",
  decode(chunks) {
    const partial: Buffer[] = [];
    let n = 0;
    for (const c of chunks)
      forEachLine(partial, asBuffer(c), (text) => {
        if (text.length > 0) n++;
      });
    return n;
  },
};

/** The raw Bun client's way: split on newlines, JSON.parse each line. */
export const splitAndParse: DecoderContender = {
  name: "raw Bun: split + JSON.parse",
  decode(chunks) {
    const partial: Buffer[] = [];
    let n = 0;
    for (const c of chunks)
      forEachLine(partial, asBuffer(c), (text) => {
        if (JSON.parse(text) !== null) n++;
      });
    return n;
  },
};

/** JSON.parse of the same lines, already split into strings before the clock starts. */
export function parseOnly(): DecoderContender {
  let lines: string[] = [];
  return {
    name: "JSON.parse only (pre-split)",
    prepare(chunks) {
      lines = [];
      const partial: Buffer[] = [];
      for (const c of chunks) forEachLine(partial, asBuffer(c), (text) => lines.push(text));
    },
    decode() {
      let n = 0;
      for (const text of lines) if (JSON.parse(text) !== null) n++;
      return n;
    },
  };
}
