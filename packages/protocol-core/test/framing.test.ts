import { describe, expect, test } from "bun:test";
import { FrameTooLargeError, LineDecoder } from "../src/index.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (lines: Uint8Array[]) => lines.map((l) => dec.decode(l));

describe("LineDecoder", () => {
  const stream = '{"a":1}\r\n{"b":"é☃"}\n\n{"c":[1,2,3]}\r\n';
  const expected = ['{"a":1}', '{"b":"é☃"}', '{"c":[1,2,3]}'];

  test("decodes many messages from one chunk, with CRLF and LF endings, skipping empty lines", () => {
    expect(text(new LineDecoder().push(enc.encode(stream)))).toEqual(expected);
  });

  test("decodes the same messages when the stream is split at every byte boundary", () => {
    const bytes = enc.encode(stream);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new LineDecoder();
      const lines = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      expect(text(lines)).toEqual(expected);
    }
  });

  test("decodes the stream fed one byte at a time", () => {
    const decoder = new LineDecoder();
    const lines: Uint8Array[] = [];
    for (const byte of enc.encode(stream)) lines.push(...decoder.push(Uint8Array.of(byte)));
    expect(text(lines)).toEqual(expected);
  });

  test("end() returns a final unterminated line and resets", () => {
    const decoder = new LineDecoder();
    expect(text(decoder.push(enc.encode('{"a":1}\n{"tail"')))).toEqual(['{"a":1}']);
    expect(dec.decode(decoder.end())).toBe('{"tail"');
    expect(decoder.end()).toBeUndefined();
  });

  test("a message over maxMessageBytes throws FrameTooLargeError naming the limit, without buffering it", () => {
    const decoder = new LineDecoder({ maxMessageBytes: 16 });
    expect(() => decoder.push(enc.encode("x".repeat(17)))).toThrow(FrameTooLargeError);
    expect(decoder.bufferedBytes).toBe(0);
    const again = new LineDecoder({ maxMessageBytes: 16 });
    again.push(enc.encode("x".repeat(10)));
    const error = (() => {
      try {
        again.push(enc.encode("x".repeat(10)));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(FrameTooLargeError);
    expect((error as FrameTooLargeError).limit).toBe(16);
    expect((error as Error).message).toContain("16 bytes");
    expect(again.bufferedBytes).toBe(0);
  });

  test("a message of exactly maxMessageBytes passes, even with CRLF split across chunks", () => {
    const decoder = new LineDecoder({ maxMessageBytes: 4 });
    expect(text([...decoder.push(enc.encode("abcd\r")), ...decoder.push(enc.encode("\n"))])).toEqual([
      "abcd",
    ]);
  });

  test("lines before an oversized one in the same chunk are delivered before the error", () => {
    const decoder = new LineDecoder({ maxMessageBytes: 8 });
    const seen: string[] = [];
    expect(() =>
      decoder.decode(enc.encode(`ok\n${"y".repeat(20)}\n`), (l) => seen.push(dec.decode(l))),
    ).toThrow(FrameTooLargeError);
    expect(seen).toEqual(["ok"]);
  });

  test("decoding 50 MiB in 64 KiB chunks yields every line (linear: no rescans, one join per line)", () => {
    const line = enc.encode(
      `${JSON.stringify({ return: { status: "running", pad: "z".repeat(200) }, id: 1 })}\r\n`,
    );
    const total = 50 * 1024 * 1024;
    const count = Math.ceil(total / line.length);
    const stream = new Uint8Array(count * line.length);
    for (let i = 0; i < count; i++) stream.set(line, i * line.length);
    const decoder = new LineDecoder();
    let lines = 0;
    let bytes = 0;
    for (let offset = 0; offset < stream.length; offset += 65536) {
      decoder.decode(stream.subarray(offset, offset + 65536), (l) => {
        lines++;
        bytes += l.length;
      });
    }
    expect(lines).toBe(count);
    expect(bytes).toBe(count * (line.length - 2));
    expect(decoder.bufferedBytes).toBe(0);
  });
});
