import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FrameTooLargeError, LineDecoder } from "../src/index.ts";

// More runs under CI, where time is budgeted for it; QMPKIT_PROPERTY_RUNS overrides both.
const runs = Number(process.env.QMPKIT_PROPERTY_RUNS ?? (process.env.CI === "true" ? 500 : 200));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Messages as QMP would carry them: no LF inside, no trailing CR, not empty; any Unicode (multi-byte UTF-8). */
const message = fc
  .string({ unit: "binary", minLength: 1, maxLength: 40 })
  .map((s) => s.replaceAll("\n", " ").replace(/\r+$/, ""))
  .filter((s) => s.length > 0);

/** Cuts `bytes` at the given sorted offsets, so chunks may split UTF-8 sequences and CR from LF. */
function cut(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

describe("LineDecoder properties", () => {
  test("any messages, any line endings, cut anywhere: decoded messages equal the originals", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(message, fc.boolean()), { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (items, offsets) => {
          const wire = items.map(([text, crlf]) => `${text}${crlf ? "\r\n" : "\n"}`).join("");
          const lineDecoder = new LineDecoder();
          const decoded: string[] = [];
          for (const chunk of cut(encoder.encode(wire), offsets)) {
            for (const line of lineDecoder.push(chunk)) decoded.push(decoder.decode(line));
          }
          expect(decoded).toEqual(items.map(([text]) => text));
          expect(lineDecoder.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: runs },
    );
  });

  test("an over-limit message is rejected without ever buffering past the limit", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (limit, excess, offsets) => {
          const line = encoder.encode(`${"a".repeat(limit + excess)}\n`);
          const lineDecoder = new LineDecoder({ maxMessageBytes: limit });
          let rejected = false;
          for (const chunk of cut(line, offsets)) {
            try {
              lineDecoder.push(chunk);
            } catch (error) {
              expect(error).toBeInstanceOf(FrameTooLargeError);
              rejected = true;
              break;
            }
            // A trailing CR may be the first half of CRLF, so one byte of slack at most.
            expect(lineDecoder.bufferedBytes).toBeLessThanOrEqual(limit + 1);
          }
          expect(rejected).toBe(true);
        },
      ),
      { numRuns: runs },
    );
  });
});
