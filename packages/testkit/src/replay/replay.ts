/**
 * Transcript replay as its own monitor service: each session plays one recorded connection back. The wire side
 * (sockets, QEMU's parser, faults, one-client admission) is the same monitor as the fake's; only what answers
 * differs, so no QEMU dispatch rule applies: the server says exactly what was recorded.
 */

import { TranscriptError } from "../errors.ts";
import { FakeQemu } from "../fake-server.ts";
import type { ParsedInput } from "../monitor/json-stream.ts";
import type { MonitorService, MonitorSession } from "../monitor/session.ts";
import { encodeQemuJson, quoteString } from "../qjson.ts";
import { readTranscript } from "../transcript.ts";
import type { FakeError, FakeQemuOptions } from "../types.ts";
import { loadMachine } from "../vm/machine.ts";

type Step =
  | { from: "client" | "server"; line: string; json: unknown }
  | { from: "client" | "server"; close: true };

interface Cursor {
  steps: Step[];
  index: number;
}

function json(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function commandKey(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const m = message as Record<string, unknown>;
  const kind = "exec-oob" in m ? "exec-oob" : "execute";
  return JSON.stringify([kind, m[kind], m.arguments ?? {}]);
}

/** Plays recorded connection N to the Nth client (the last one again if more clients come). */
export class ReplayMonitor implements MonitorService {
  readonly #byConn: Map<number, Step[]>;
  readonly #recorded: number[];
  readonly #cursors = new WeakMap<MonitorSession, Cursor>();
  readonly #errors: FakeError[];

  constructor(byConn: Map<number, Step[]>, errors: FakeError[]) {
    this.#byConn = byConn;
    this.#recorded = [...byConn.keys()].sort((a, b) => a - b);
    this.#errors = errors;
  }

  greeting(session: MonitorSession): string | null {
    return this.#playServer(session, this.#cursorOf(session), undefined, undefined) || null;
  }

  input(input: ParsedInput, session: MonitorSession): undefined {
    const cursor = this.#cursorOf(session);
    const got = input.ok ? input.value : undefined;
    const id = typeof got === "object" && got !== null ? (got as Record<string, unknown>).id : undefined;
    const step = cursor.steps[cursor.index];
    const expected = step !== undefined && step.from === "client" && !("close" in step) ? step : undefined;
    if (expected === undefined || commandKey(expected.json) !== commandKey(got)) {
      const wanted = expected === undefined ? "nothing more (the recording ends here)" : expected.line;
      const desc = `qmpkit replay: expected ${wanted}, got ${input.raw}`;
      this.#errors.push({ client: session.id, command: undefined, message: desc, at: Date.now() });
      const idPart = id === undefined ? "" : `"id": ${encodeQemuJson(id, true)}, `;
      session.write(`{${idPart}"error": {"class": "GenericError", "desc": ${quoteString(desc)}}}\r\n`);
      return undefined;
    }
    cursor.index++;
    const recordedId = (expected.json as Record<string, unknown>).id;
    const text = this.#playServer(session, cursor, recordedId, id);
    if (text) session.write(text);
    return undefined;
  }

  #cursorOf(session: MonitorSession): Cursor {
    let cursor = this.#cursors.get(session);
    if (cursor === undefined) {
      const key = this.#recorded[Math.min(session.id, this.#recorded.length) - 1] as number;
      cursor = { steps: this.#byConn.get(key) ?? [], index: 0 };
      this.#cursors.set(session, cursor);
    }
    return cursor;
  }

  /** Returns the server's recorded lines up to the next client line, as one text. */
  #playServer(session: MonitorSession, cursor: Cursor, idFrom: unknown, idTo: unknown): string {
    let out = "";
    for (; cursor.index < cursor.steps.length; cursor.index++) {
      const step = cursor.steps[cursor.index] as Step;
      if (step.from === "client") break;
      if ("close" in step) {
        cursor.index = cursor.steps.length;
        queueMicrotask(() => void session.close());
        break;
      }
      out += `${rewriteId(step.line, step.json, idFrom, idTo)}\r\n`;
    }
    return out;
  }
}

/**
 * A fake that answers as the recorded server did: connection N of the replay plays recorded connection N (the
 * last one again if there are more). Each client message must match the next recorded one (command and
 * arguments; the id may differ and is echoed back). Anything else gets an error reply whose desc says what was
 * expected, and an entry in `fake.errors`.
 *
 * @example
 * await using fake = await replayTranscript("session.jsonl");
 * const client = await connect(fake.address);
 * await client.execute("query-status"); // answered from the recording
 * expect(fake.errors).toEqual([]);
 */
export async function replayTranscript(
  file: string,
  options: Pick<FakeQemuOptions, "tcp" | "path" | "multiClient" | "onReceived"> = {},
): Promise<FakeQemu> {
  const entries = await readTranscript(file);
  const byConn = new Map<number, Step[]>();
  for (const entry of entries) {
    const steps = byConn.get(entry.conn) ?? [];
    steps.push("close" in entry ? { from: entry.from, close: true } : { ...entry, json: json(entry.line) });
    byConn.set(entry.conn, steps);
  }
  if (byConn.size === 0) throw new TranscriptError(`${file} records no connection`);
  const profile = await loadMachine("none");
  return new FakeQemu(
    { ...options, schema: false },
    { profile, service: (fake) => new ReplayMonitor(byConn, fake.errors) },
  );
}

/** Replaces the recorded client's id by the replaying client's in a reply line; other lines pass unchanged. */
function rewriteId(line: string, parsed: unknown, from: unknown, to: unknown): string {
  if (from === undefined || typeof parsed !== "object" || parsed === null) return line;
  const message = parsed as Record<string, unknown>;
  if (!("id" in message) || JSON.stringify(message.id) !== JSON.stringify(from)) return line;
  const rewritten: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) rewritten[key] = key === "id" ? to : value;
  if (to === undefined) delete rewritten.id;
  return encodeQemuJson(rewritten);
}
