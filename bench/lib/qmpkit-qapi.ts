/**
 * Issue 7's benchmark line, printed as workload 9: the QAPI schema (~207 KB) fetched from a server and checked, and
 * the TypeScript file generated from it, beside `JSON.parse` of the same bytes.
 *
 * The parse and generate steps come from `measureQAPITimings` (packages/qmp/scripts/qapi-timings.ts, median of its
 * own runs) once per repetition; the fetch is timed here through `QMPClient` against a running server.
 */
import { measureQAPITimings, type QAPITimings } from "../../packages/qmp/scripts/qapi-timings.ts";
import { connect } from "../../packages/qmp/src/index.ts";
import { parseSchema } from "../../packages/qmp/src/qapi/index.ts";
import type { Measurement, Target } from "./contender.ts";
import type { Ref } from "./report.ts";

/** Runs of each step inside one repetition (measureQAPITimings takes their median). */
const INNER_RUNS = 3;

export interface QAPIJob {
  readonly name: string;
  readonly ref?: Ref;
  /** n: how many fetches (the other rows ignore it and report one median). */
  run(n: number): Promise<Measurement>;
}

/**
 * The rows, in the order they must run within a repetition: the first one measures every in-process step and the
 * next two report its figures, so the three come from the same runs.
 */
export function qapiJobs(schemaText: string, fetchFrom: Target): QAPIJob[] {
  let latest: QAPITimings | undefined;
  const step = (pick: (t: QAPITimings) => number) => async (): Promise<Measurement> => {
    if (latest === undefined) throw new Error("the JSON.parse row must run first");
    return { ns: pick(latest) * 1e6, ops: 1 };
  };
  return [
    {
      name: `JSON.parse of the schema (${(Buffer.byteLength(schemaText) / 1e3).toFixed(0)} KB)`,
      ref: "bun",
      async run() {
        latest = measureQAPITimings(schemaText, INNER_RUNS);
        return { ns: latest.jsonParseMs * 1e6, ops: 1 };
      },
    },
    { name: "parseSchema (QAPI shape checks)", run: step((t) => t.parseSchemaMs) },
    {
      name: "generateTypes (TS source)",
      run: step((t) => t.generateMs),
    },
    {
      name: `QMPClient fetch query-qmp-schema + parseSchema @ ${fetchFrom.name}`,
      async run(n) {
        const client = await connect(fetchFrom.address);
        try {
          const t0 = Bun.nanoseconds();
          for (let i = 0; i < n; i++) {
            const entries = parseSchema(await client.execute("query-qmp-schema"));
            if (entries.length === 0) throw new Error("empty schema");
          }
          return { ns: Bun.nanoseconds() - t0, ops: n };
        } finally {
          await client.disconnect();
        }
      },
    },
  ];
}
