/**
 * The commands of the monitor itself rather than of the VM (QEMU's `monitor/qmp-cmds-control.c`): negotiation,
 * the command list and the schema; and the benchmark's event pump, which is about the wire.
 */
import { QMPCommandError } from "../errors.ts";
import { nowMicros } from "../monitor/format.ts";
import type { RawJson } from "../qjson.ts";
import type { Handler } from "./context.ts";

/** What the monitor's commands read from the dispatcher. */
export interface MonitorState {
  readonly offered: readonly string[];
  schemaJson(): RawJson;
  commandList(): { name: string }[];
}

/** The monitor's commands. */
export function monitorCommands(state: MonitorState): Map<string, Handler> {
  return new Map<string, Handler>([
    [
      "qmp_capabilities",
      (args, ctx) => {
        if (ctx.session.phase === "command") {
          throw new QMPCommandError(
            "CommandNotFound",
            "Capabilities negotiation is already complete, command ignored",
          );
        }
        const wanted = Array.isArray(args.enable) ? (args.enable as string[]) : [];
        const unavailable: string[] = [];
        for (let i = 0; i < wanted.length; i++)
          if (!state.offered.includes(wanted[i] as string)) unavailable.push(wanted[i] as string);
        if (unavailable.length > 0) {
          throw new QMPCommandError("GenericError", `Capability ${unavailable.join(", ")} not available`);
        }
        return {};
      },
    ],
    ["query-commands", () => state.commandList()],
    ["query-qmp-schema", () => state.schemaJson()],
  ]);
}

// Bench events are written in batches: one string per batch, one write syscall, and a pause whenever the peer
// lets more than this many bytes pile up, so a million events never sit in memory at once.
const BENCH_BATCH = 2048;
const BENCH_HIGH_WATER = 4 * 1024 * 1024;

/** `bench-events {"count": N}`: N `BENCH` events as fast as the client takes them, then `{}`. */
export const benchEvents: Handler = async (args, ctx) => {
  const count = args.count;
  if (typeof count !== "number" || !Number.isInteger(count) || count < 0) {
    throw new QMPCommandError("GenericError", "Invalid parameter type for 'count', expected: integer");
  }
  const session = ctx.session;
  for (let n = 0; n < count && !session.ended; ) {
    const end = Math.min(count, n + BENCH_BATCH);
    const us = nowMicros();
    const head = `{"timestamp": {"seconds": ${Math.floor(us / 1e6)}, "microseconds": ${us % 1e6}}, "event": "BENCH", "data": {"n": `;
    let batch = "";
    for (; n < end; n++) batch += `${head}${n}}}\r\n`;
    session.write(batch);
    // Yielding a microtask lets the writer hand this batch to the kernel before the next one is built.
    if (session.bufferedBytes > BENCH_HIGH_WATER) await session.flushed();
    else await null;
  }
  return {};
};
