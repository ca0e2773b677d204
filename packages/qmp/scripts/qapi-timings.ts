/**
 * Timings for the QAPI type generator beside `JSON.parse` of the same bytes, for `bench/` to print.
 *
 *   bun packages/qmp/scripts/qapi-timings.ts [SCHEMA_FILE]   (default: the QEMU 7.2 fixture)
 */

import { join } from "node:path";
import { generateTypes } from "../src/qapi/generate.ts";
import { parseSchema } from "../src/qapi/schema.ts";

/** Medians, in milliseconds, over `runs` runs of each step. */
export interface QAPITimings {
  readonly bytes: number;
  readonly runs: number;
  /** `JSON.parse` of the schema text: the baseline. */
  readonly jsonParseMs: number;
  /** `parseSchema` (shape checks) of the parsed value. */
  readonly parseSchemaMs: number;
  /** `generateTypes` from the checked schema. */
  readonly generateMs: number;
  /** Size of the generated source. */
  readonly outputBytes: number;
}

/** Measure parsing and generation of one schema text; each step runs `runs` times and reports its median. */
export function measureQAPITimings(schemaText: string, runs = 5): QAPITimings {
  const median = (fn: () => void): number => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = Bun.nanoseconds();
      fn();
      times.push((Bun.nanoseconds() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)] ?? Number.NaN;
  };
  const value: unknown = JSON.parse(schemaText);
  const schema = parseSchema(value);
  let output = "";
  const jsonParseMs = median(() => JSON.parse(schemaText));
  const parseSchemaMs = median(() => parseSchema(value));
  const generateMs = median(() => {
    output = generateTypes(schema);
  });
  return {
    bytes: Buffer.byteLength(schemaText),
    runs,
    jsonParseMs,
    parseSchemaMs,
    generateMs,
    outputBytes: Buffer.byteLength(output),
  };
}

if (import.meta.main) {
  const file = Bun.argv[2] ?? join(import.meta.dir, "../../testkit/fixtures/qemu-7.2-schema.json");
  const t = measureQAPITimings(await Bun.file(file).text());
  const ms = (n: number): string => `${n.toFixed(2)} ms`;
  console.log(`schema ${t.bytes} bytes, median of ${t.runs}`);
  console.log(`  JSON.parse     ${ms(t.jsonParseMs)}`);
  console.log(`  parseSchema    ${ms(t.parseSchemaMs)}`);
  console.log(`  generateTypes  ${ms(t.generateMs)}  (${t.outputBytes} bytes out)`);
}
