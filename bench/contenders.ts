/**
 * The seam where qmpkit's rows plug in. The harness (bench/run.ts) runs every
 * contender listed here beside the baselines, in the same run, interleaved
 * repetition by repetition, and prints ratios against the raw C and raw Bun
 * rows. Nothing else in bench/ needs to change to add a row.
 *
 *  - clients:  implement `Contender` (bench/lib/contender.ts): workloads 1–5
 *              against every target server (C server, real QEMU, and any
 *              server below with `asTarget: true`).
 *  - servers:  implement `ServerContender`: `asTarget` makes it a target for
 *              workloads 1–5, `asServer` measures it in workload 7 with the
 *              raw C client.
 *  - decoders: implement `DecoderContender` for workload 6.
 *
 * Workload 8 picks up `dist/qmpkit` by itself once `bun run build` made it.
 */
import type { Contender, DecoderContender, ServerContender } from "./lib/contender.ts";
import { qmpkitClient, qmpkitDisabledLoggerClient } from "./lib/qmpkit-client.ts";
import { lineDecoderClient, lineDecoderOnly, lineDecoderParse } from "./lib/qmpkit-decoder.ts";
import { fakeServer } from "./lib/servers.ts";

/** e.g. the `QMPClient` contender from @qmpkit/qmp. */
export const clients: Contender[] = [qmpkitClient(), qmpkitDisabledLoggerClient()];

/** e.g. `createFakeQemu` from @qmpkit/testkit (asTarget and asServer, events: true). */
export const servers: ServerContender[] = [fakeServer];

/** e.g. protocol-core's `LineDecoder` followed by JSON.parse of each message. */
export const decoders: DecoderContender[] = [lineDecoderOnly, lineDecoderParse, lineDecoderClient];
