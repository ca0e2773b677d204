/**
 * QEMU's output formatting for QMP: replies and events, byte for byte (member order, spacing, CRLF).
 */
import { encodeQemuJson, quoteString } from "../qjson.ts";
import type { JsonObject } from "../types.ts";

/** What a command produced: a `return` value or an `error`. */
export type ReplyBody = { return: unknown } | { error: { class: string; desc: string } };

/** A reply on its way to the wire: which command it answers and with which id. */
export interface Reply {
  /** The command it answers ("" when the input never named one). */
  readonly command: string;
  readonly hasId: boolean;
  readonly id: unknown;
  readonly body: ReplyBody;
}

/** A `GenericError` reply body. */
export function genericError(desc: string): ReplyBody {
  return { error: { class: "GenericError", desc } };
}

/** Wall-clock time in whole microseconds, QEMU's event time base. */
export function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

/** Formats one QMP event line the way QEMU does. */
export function eventText(event: string, data: JsonObject | undefined, nowUs = nowMicros()): string {
  const seconds = Math.floor(nowUs / 1e6);
  const micros = nowUs - seconds * 1e6;
  const head = `{"timestamp": {"seconds": ${seconds}, "microseconds": ${micros}}, "event": ${quoteString(event)}`;
  return data === undefined ? `${head}}\r\n` : `${head}, "data": ${encodeQemuJson(data)}}\r\n`;
}

/**
 * Formats a reply as QEMU does: `return` before `id`, but `id` before `error` (QEMU builds the two from different
 * QDicts); `idText` is the id already encoded, or undefined for no id member.
 */
export function replyText(body: ReplyBody, idText: string | undefined): string {
  if ("return" in body) {
    const value = encodeQemuJson(body.return);
    return idText === undefined ? `{"return": ${value}}\r\n` : `{"return": ${value}, "id": ${idText}}\r\n`;
  }
  const error = `{"class": ${quoteString(body.error.class)}, "desc": ${quoteString(body.error.desc)}}`;
  return idText === undefined ? `{"error": ${error}}\r\n` : `{"id": ${idText}, "error": ${error}}\r\n`;
}

/** Formats `reply`, encoding its id QDict-style as QEMU echoes it. */
export function formatReply(reply: Reply): string {
  return replyText(reply.body, reply.hasId ? encodeQemuJson(reply.id, true) : undefined);
}
