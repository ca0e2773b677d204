/**
 * Ready-made server misbehaviours for `createFakeQemu({ faults: [...] })` or `fake.inject(fault)`. Each returns
 * a {@link Fault}: hooks that bend one connection's greeting, replies or bytes. Combine freely; they apply in
 * order.
 */

import { eventText } from "./monitor/format.ts";
import { encodeQemuJson, quoteString } from "./qjson.ts";
import type { Fault, FaultConnection, FaultReply, JsonObject } from "./types.ts";

/** When `garbage` writes its bytes. */
export type GarbageWhen = "before-greeting" | "after-greeting" | "after-negotiation" | { instead: string };

const MIB = 1024 * 1024;

function matches(pattern: string, command: string): boolean {
  return pattern === "*" || pattern === command;
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? Buffer.from(data) : data;
}

/** The greeting is never sent (a SIGSTOPped QEMU, or a second client on QEMU's one-client monitor). */
function noGreeting(): Fault {
  return { name: "noGreeting", greeting: () => null };
}

/** The greeting is sent after `ms`. */
function slowGreeting(ms: number): Fault {
  return {
    name: `slowGreeting(${ms})`,
    async greeting(text, conn) {
      await conn.sleep(ms);
      return text;
    },
  };
}

/** Sends `text` (a line; CRLF is added) instead of the greeting. @default a JSON object without the `QMP` member */
function malformedGreeting(text = '{"QEMU": {"version": "7.2"}}'): Fault {
  return { name: "malformedGreeting", greeting: () => `${text}\r\n` };
}

/**
 * Writes `data` at a point of the session: before or after the greeting, after negotiation, or instead of the
 * reply to a command (`{ instead: "query-status" }`).
 */
function garbage(
  data: string | Uint8Array = "\u0000\u00ff not json }{\r\n",
  when: GarbageWhen = "after-greeting",
): Fault {
  const bytes = toBytes(data);
  const fault: Fault = { name: `garbage(${typeof when === "string" ? when : `instead of ${when.instead}`})` };
  if (when === "before-greeting") fault.opened = (conn) => conn.write(bytes);
  else if (when === "after-greeting") fault.afterGreeting = (conn) => conn.write(bytes);
  else if (when === "after-negotiation") fault.afterNegotiation = (conn) => conn.write(bytes);
  else fault.reply = (reply) => (reply.command === when.instead ? { write: [bytes] } : undefined);
  return fault;
}

/** Every byte the server writes (greeting, replies, events) goes out separately, one per event-loop turn. */
function splitReplies(): Fault {
  return { name: "splitReplies", opened: (conn) => conn.splitWrites() };
}

/**
 * Answers `command` with a string `return` value of `mib` MiB (QEMU's real big replies are HMP text and
 * `query-qmp-schema`; a string is the simplest equivalent).
 */
function hugeReply(command: string, mib: number): Fault {
  return {
    name: `hugeReply(${command}, ${mib} MiB)`,
    reply(reply) {
      if (reply.command !== command || "error" in reply.message) return undefined;
      const size = Math.round(mib * MIB);
      const id = reply.hasId ? `, "id": ${encodeQemuJson(reply.id, true)}` : "";
      const payload = Buffer.alloc(size + 32 + id.length);
      let at = payload.write('{"return": "');
      payload.fill(0x78, at, at + size);
      at += size;
      at += payload.write(`"${id}}\r\n`, at);
      return { write: [payload.subarray(0, at)] };
    },
  };
}

/** Cuts the connection after the server has written `bytes` bytes in total (greeting included). */
function closeAfterBytes(bytes: number): Fault {
  return { name: `closeAfterBytes(${bytes})`, opened: (conn) => conn.limitBytes(bytes) };
}

/** Writes the first half of `command`'s reply, then closes the connection. */
function closeMidMessage(command: string): Fault {
  return {
    name: `closeMidMessage(${command})`,
    reply(reply) {
      if (!matches(command, reply.command)) return undefined;
      const bytes = Buffer.from(reply.text);
      return { write: [bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2)))], end: "close" };
    },
  };
}

/** Resets the connection instead of answering `command` (QEMU crashed or was killed mid-command). */
function reset(command: string): Fault {
  return {
    name: `reset(${command})`,
    reply: (reply) => (matches(command, reply.command) ? { write: [], end: "reset" } : undefined),
  };
}

function replaceId(reply: FaultReply, idText: string | undefined): string {
  const body = "error" in reply.message ? reply.message.error : reply.message.return;
  if ("error" in reply.message) {
    const err = body as { class: string; desc: string };
    const error = `{"class": ${quoteString(err.class)}, "desc": ${quoteString(err.desc)}}`;
    return idText === undefined ? `{"error": ${error}}\r\n` : `{"id": ${idText}, "error": ${error}}\r\n`;
  }
  const value = encodeQemuJson(body);
  return idText === undefined ? `{"return": ${value}}\r\n` : `{"return": ${value}, "id": ${idText}}\r\n`;
}

/** Answers `command` with an `id` the client never sent (`"<id>-wrong"`). */
function wrongId(command: string): Fault {
  return {
    name: `wrongId(${command})`,
    reply(reply) {
      if (!matches(command, reply.command)) return undefined;
      return { write: [replaceId(reply, quoteString(`${String(reply.id)}-wrong`))] };
    },
  };
}

/** Answers `command` without its `id`. */
function missingId(command: string): Fault {
  return {
    name: `missingId(${command})`,
    reply: (reply) =>
      matches(command, reply.command) ? { write: [replaceId(reply, undefined)] } : undefined,
  };
}

/**
 * Right after negotiation, sends a reply nobody asked for: `{"return": value, "id": id}`.
 * @default value `{}`, id `"unsolicited"`
 */
function unsolicitedReply(value: unknown = {}, id: unknown = "unsolicited"): Fault {
  return {
    name: "unsolicitedReply",
    afterNegotiation: (conn) =>
      conn.write(`{"return": ${encodeQemuJson(value)}, "id": ${encodeQemuJson(id, true)}}\r\n`),
  };
}

/** Sends `command`'s reply twice. */
function duplicateReply(command: string): Fault {
  return {
    name: `duplicateReply(${command})`,
    reply: (reply) => (matches(command, reply.command) ? { write: [reply.text, reply.text] } : undefined),
  };
}

/** Holds `command` (or every command, `"*"`) for `ms` before it runs; in-band commands queue behind it, as in QEMU. */
function delay(command: string, ms: number): Fault {
  return {
    name: `delay(${command}, ${ms})`,
    beforeCommand: (name, conn) => (matches(command, name) ? conn.sleep(ms) : undefined),
  };
}

/** Options of {@link eventFlood}. */
export interface EventFloodOptions {
  /** The event name. @default "FLOOD" */
  event?: string;
  /** How many events. */
  count: number;
  /** Events per second; omit for as fast as the socket takes them. */
  ratePerSec?: number;
  /** The event's `data`; `n` (the event's index) is added. @default {} */
  data?: JsonObject;
  /**
   * Start once this command has been answered (so a test can register its listeners first), instead of right
   * after negotiation. @default start right after negotiation
   */
  trigger?: string;
}

/**
 * Pushes `count` events, at `ratePerSec` or as fast as the socket takes them, in batched writes: right after
 * negotiation, or after the reply to `trigger`.
 */
function eventFlood(options: EventFloodOptions): Fault {
  const event = options.event ?? "FLOOD";
  const fault: Fault = { name: `eventFlood(${event} x${options.count})` };
  const trigger = options.trigger;
  if (trigger === undefined) fault.afterNegotiation = (conn) => void flood(conn, event, options);
  else {
    fault.reply = (reply, conn) => {
      if (reply.command !== trigger) return undefined;
      // Written after the reply: queueMicrotask runs once the reply is in the write queue.
      queueMicrotask(() => void flood(conn, event, options));
      return undefined;
    };
  }
  return fault;
}

async function flood(conn: FaultConnection, event: string, options: EventFloodOptions): Promise<void> {
  const tickMs = 10;
  const perTick =
    options.ratePerSec === undefined ? 1024 : Math.max(1, Math.round((options.ratePerSec * tickMs) / 1000));
  let n = 0;
  while (n < options.count && !conn.signal.aborted) {
    const end = Math.min(options.count, n + perTick);
    let batch = "";
    for (; n < end; n++) batch += eventText(event, { ...options.data, n });
    conn.write(batch);
    if (options.ratePerSec !== undefined) await conn.sleep(tickMs);
    else await conn.flushed();
  }
}

/**
 * The fault helpers.
 *
 * @example
 * await using fake = await createFakeQemu({ faults: [faults.delay("query-status", 50), faults.splitReplies()] });
 * fake.inject(faults.noGreeting()); // only the next connection gets no greeting
 */
export const faults = {
  noGreeting,
  slowGreeting,
  malformedGreeting,
  garbage,
  splitReplies,
  hugeReply,
  closeAfterBytes,
  closeMidMessage,
  reset,
  wrongId,
  missingId,
  unsolicitedReply,
  duplicateReply,
  delay,
  eventFlood,
} as const;
