/**
 * `qmpkit fake --script FILE.json`: canned answers for particular commands, so a project in any
 * language can use the fake as a mock server without writing code. (A `.ts`/`.js` script is the
 * testkit's: a module whose default export receives the fake.) The file is JSON:
 *
 * ```json
 * {
 *   "status": "paused",
 *   "commands": {
 *     "query-name": { "return": { "name": "vm1" } },
 *     "device_del": { "error": { "class": "DeviceNotFound", "desc": "Device 'nic0' not found" } },
 *     "system_powerdown": { "events": [{ "event": "POWERDOWN" }] },
 *     "query-jobs": [{ "return": [{ "id": "j1" }] }, { "return": [] }]
 *   }
 * }
 * ```
 *
 * A reply has `return` (default `{}`) or `error`, and `events` sent just before it (as QEMU sends STOP
 * before `stop` returns). A list of replies is used in turn, the last one for every later call.
 * Arguments are still checked against the schema first, as QEMU would.
 */

import type { CommandHandler, FakeQemu } from "@qmpkit/testkit/fake";
import { CliUsageError } from "./errors.ts";

/** One canned answer. */
export interface ScriptedReply {
  readonly events: readonly { readonly event: string; readonly data?: Record<string, unknown> }[];
  readonly return?: unknown;
  readonly error?: { readonly class: string; readonly desc: string };
}

/** A parsed script: the run state to start in, and replies by command name. */
export interface FakeScript {
  /** `query-status`'s status at start (`paused`, `prelaunch`, …). */
  readonly status?: string;
  readonly commands: ReadonlyMap<string, readonly ScriptedReply[]>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks a script's text; every problem names where it is.
 * @throws {CliUsageError} for anything that is not the format above.
 */
export function parseFakeScript(text: string, file: string): FakeScript {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new CliUsageError(`script '${file}' is not JSON: ${(error as Error).message}`);
  }
  const fail = (where: string, what: string): never => {
    throw new CliUsageError(`script '${file}': ${where} ${what}`);
  };
  if (!isObject(raw)) return fail("the top level", "must be an object");
  for (const key of Object.keys(raw)) {
    if (!["status", "commands"].includes(key)) fail(`key '${key}'`, "is unknown (status, commands)");
  }
  const status = raw.status;
  if (status !== undefined && typeof status !== "string") fail("'status'", "must be a string");
  const commands = new Map<string, ScriptedReply[]>();
  const table = raw.commands ?? {};
  if (!isObject(table)) return fail("'commands'", "must be an object keyed by command name");
  for (const [name, spec] of Object.entries(table)) {
    const list = Array.isArray(spec) ? spec : [spec];
    if (list.length === 0) fail(`commands.${name}`, "is an empty list");
    commands.set(
      name,
      list.map((item, i) =>
        parseReply(item, Array.isArray(spec) ? `commands.${name}[${i}]` : `commands.${name}`, fail),
      ),
    );
  }
  return { ...(typeof status === "string" ? { status } : {}), commands };
}

function parseReply(
  item: unknown,
  where: string,
  fail: (where: string, what: string) => never,
): ScriptedReply {
  if (!isObject(item)) return fail(where, "must be an object with 'return', 'error' or 'events'");
  for (const key of Object.keys(item)) {
    if (!["return", "error", "events"].includes(key))
      fail(`${where}.${key}`, "is unknown (return, error, events)");
  }
  if ("return" in item && "error" in item) fail(where, "has both 'return' and 'error'");
  const error = item.error;
  if (
    error !== undefined &&
    !(isObject(error) && typeof error.class === "string" && typeof error.desc === "string")
  ) {
    fail(`${where}.error`, 'must be {"class": "...", "desc": "..."}');
  }
  const events = item.events ?? [];
  if (!Array.isArray(events)) return fail(`${where}.events`, "must be a list");
  events.forEach((e, i) => {
    if (!isObject(e) || typeof e.event !== "string" || (e.data !== undefined && !isObject(e.data))) {
      fail(`${where}.events[${i}]`, 'must be {"event": "NAME", "data": {...}}');
    }
  });
  return {
    events: events as ScriptedReply["events"],
    ...("return" in item ? { return: item.return } : {}),
    ...(error === undefined ? {} : { error: error as { class: string; desc: string } }),
  };
}

/** Applies a parsed script to a running fake: its start status and a handler per command. */
export function applyFakeScript(fake: FakeQemu, script: FakeScript): void {
  if (script.status !== undefined) fake.status = script.status;
  for (const [name, replies] of script.commands) fake.handle(name, scriptedHandler(replies));
}

/** A fake command handler that plays `replies` in turn, repeating the last. */
export function scriptedHandler(replies: readonly ScriptedReply[]): CommandHandler {
  let next = 0;
  return (_args, ctx) => {
    const reply = replies[Math.min(next++, replies.length - 1)] as ScriptedReply;
    for (const e of reply.events) ctx.emit(e.event, e.data);
    if (reply.error) ctx.fail(reply.error.class, reply.error.desc);
    return reply.return ?? {};
  };
}
