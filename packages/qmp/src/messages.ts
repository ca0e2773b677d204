/**
 * The QMP wire dialect: message types, and the guards that turn decoded JSON into them.
 *
 * Inbound objects come from `JSON.parse`, which makes every key, `__proto__` included, an ordinary own property.
 * Nothing here copies a wire object with `Object.assign` or into an existing prototype-bearing object, so a
 * hostile `{"__proto__": …}` can never reach a prototype.
 *
 * @module
 */

import { ProtocolError } from "@qmpkit/protocol-core";
import { type ErrorBody, GreetingError } from "./errors.ts";

/** Any QMP message: one JSON object per line, in either direction. */
export type QMPMessage = Record<string, unknown>;

/** QEMU's version triple, as announced in the greeting. */
export interface QemuVersion {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
}

/**
 * The first message of a QMP session.
 *
 * @example
 * { "QMP": { "version": { "qemu": { "major": 7, "minor": 2, "micro": 0 }, "package": "Debian 1:7.2+dfsg-7" },
 *            "capabilities": ["oob"] } }
 */
export interface Greeting {
  readonly QMP: {
    readonly version: { readonly qemu: QemuVersion; readonly package: string };
    /** What the server offers for negotiation (QEMU 7.2: `["oob"]`). */
    readonly capabilities: readonly string[];
  };
}

/** When QEMU emitted an event (wall clock, split as in `struct timeval`). */
export interface QMPTimestamp {
  readonly seconds: number;
  readonly microseconds: number;
}

/**
 * An asynchronous event. `data` is `{}` when QEMU sent none (QEMU omits it for events without data).
 * Event names are open strings: an event a newer QEMU adds still arrives here.
 */
export interface QMPEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: QMPTimestamp;
}

/** The common shape of every event a listener can hold, typed or not. */
export interface EventLike {
  readonly event: string;
  readonly data: unknown;
  readonly timestamp: QMPTimestamp;
}

/** A successful reply. */
export interface SuccessResponse<R = unknown> {
  readonly return: R;
  readonly id?: unknown;
}

/** An error reply: QEMU's class and description of what failed. */
export interface ErrorResponse {
  readonly error: ErrorBody;
  readonly id?: unknown;
}

/** A reply to a command, as returned by `executeRaw`. */
export type Reply = SuccessResponse | ErrorResponse;

/** A prebuilt command for `executeMsg` / `executeRaw`: exactly one of `execute` or `exec-oob`. */
export type CommandMessage =
  | { readonly execute: string; readonly arguments?: Record<string, unknown>; readonly id?: string }
  | { readonly "exec-oob": string; readonly arguments?: Record<string, unknown>; readonly id?: string };

const decoder = new TextDecoder();

/** A run of 16 or more digits: the only way a JSON integer can exceed 2^53 (9007199254740992 has 16). */
const LONG_DIGITS = /\d{16}/;

/** Turns integers that a double cannot hold exactly into BigInts, from their source text (ES2025 JSON.parse). */
function exactIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== "number" || Number.isSafeInteger(value) || context?.source === undefined) return value;
  return /^-?\d+$/.test(context.source) ? BigInt(context.source) : value;
}

/**
 * Decodes one line into a JSON object; anything else is a {@link ProtocolError} that ends the session. With
 * `bigints`, integers beyond 2^53 (QEMU's uint64 sizes and counters) become exact `bigint`s; lines without a
 * 16-digit run skip that work.
 */
export function decodeQMPMessage(frame: Uint8Array, bigints = false): QMPMessage {
  let value: unknown;
  try {
    const text = decoder.decode(frame);
    value = bigints && LONG_DIGITS.test(text) ? JSON.parse(text, exactIntegers) : JSON.parse(text);
  } catch (error) {
    throw new ProtocolError(`Received a line that is not JSON: ${preview(frame)}`, { cause: error });
  }
  if (!isObject(value)) throw new ProtocolError(`Received JSON that is not an object: ${preview(frame)}`);
  return value;
}

/**
 * The start of `value` as compact JSON, at most `max` characters (then `…`), for error and log messages. It reads
 * only what it prints: wire data may be nested far deeper than `JSON.stringify` can recurse (which then throws a
 * RangeError, after seconds of work at a million levels), or be megabytes long.
 */
export function previewJson(value: unknown, max = 200): string {
  let out = "";
  const visit = (v: unknown, depth: number): void => {
    if (out.length > max) return;
    if (depth > 64) {
      out += "…";
    } else if (Array.isArray(v)) {
      out += "[";
      for (let i = 0; i < v.length && out.length <= max; i++) {
        if (i > 0) out += ",";
        visit(v[i], depth + 1);
      }
      out += "]";
    } else if (typeof v === "object" && v !== null) {
      out += "{";
      let first = true;
      for (const key in v) {
        if (out.length > max) break;
        if (!Object.hasOwn(v, key)) continue;
        out += `${first ? "" : ","}${JSON.stringify(key)}:`;
        first = false;
        visit((v as Record<string, unknown>)[key], depth + 1);
      }
      out += "}";
    } else {
      out += String(JSON.stringify(typeof v === "string" && v.length > max ? v.slice(0, max) : v));
    }
  };
  visit(value, 0);
  return out.length > max ? `${out.slice(0, max)}…` : out;
}

function preview(frame: Uint8Array): string {
  const text = decoder.decode(frame.subarray(0, 120));
  return frame.length > 120 ? `${text}…` : text;
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks a greeting's structure; throws {@link GreetingError} naming what is wrong. */
export function parseGreeting(message: QMPMessage): Greeting {
  const fail = (what: string): never => {
    throw new GreetingError(`Invalid QMP greeting (${what}): ${previewJson(message)}`);
  };
  const qmp = message.QMP;
  if (!isObject(qmp)) return fail('no "QMP" object');
  const version = qmp.version;
  if (!isObject(version)) return fail('no "version" object');
  const qemu = version.qemu;
  // Plain tests and a loop, not `every`: every session reads a greeting, and a builtin's first call costs a
  // compiled CLI ~0.05 ms to set up.
  if (
    !isObject(qemu) ||
    typeof qemu.major !== "number" ||
    typeof qemu.minor !== "number" ||
    typeof qemu.micro !== "number"
  )
    return fail('"version.qemu" is not {major, minor, micro}');
  if (version.package !== undefined && typeof version.package !== "string")
    return fail('"version.package" is not a string');
  const capabilities = qmp.capabilities;
  if (!Array.isArray(capabilities)) return fail('"capabilities" is not a list of strings');
  const names: string[] = [];
  for (const c of capabilities as unknown[]) {
    if (typeof c !== "string") return fail('"capabilities" is not a list of strings');
    names.push(c);
  }
  return {
    QMP: {
      version: {
        qemu: { major: qemu.major as number, minor: qemu.minor as number, micro: qemu.micro as number },
        package: (version.package as string | undefined) ?? "",
      },
      capabilities: names,
    },
  };
}

const NO_TIMESTAMP: QMPTimestamp = Object.freeze({ seconds: 0, microseconds: 0 });

/** The event in `message`, normalised (`data` defaults to `{}`), or undefined when it is not an event. */
export function toEvent(message: QMPMessage): QMPEvent | undefined {
  const name = message.event;
  if (typeof name !== "string") return undefined;
  const data = message.data;
  const timestamp = message.timestamp;
  return {
    event: name,
    data: isObject(data) ? data : {},
    timestamp: isObject(timestamp) ? (timestamp as unknown as QMPTimestamp) : NO_TIMESTAMP,
  };
}

/** True when `value` is a well-formed `error` member: `{class: string, desc: string}`. */
export function isErrorBody(value: unknown): value is ErrorBody {
  return isObject(value) && typeof value.class === "string" && typeof value.desc === "string";
}
