// The guest agent's wire dialect. Framing is protocol-core's: one JSON text per line. What differs from QMP:
// no greeting, no ids in replies, and the 0xFF byte. A client sends 0xFF to make the agent drop any half-read
// input; the agent answers it with a GenericError, and it puts 0xFF in front of a guest-sync-delimited reply so a
// client can find the start of that reply in a stream dirtied by an earlier client. 0xFF never occurs in UTF-8, so
// it cannot be confused with JSON text.

/** The resynchronisation byte, in both directions. */
export const SENTINEL = 0xff;
const SENTINEL_BYTES = new Uint8Array([SENTINEL]);

/**
 * One message on a guest-agent channel, as `onInbound`/`onOutbound` hooks see it. Inbound frames that are not JSON
 * (garbage on a dirty channel, the tail of a stale reply) arrive as `invalid` instead of ending the session.
 */
export type QGAMessage =
  | {
      readonly type: "json";
      /** The parsed JSON value. */
      readonly value: unknown;
      /** The JSON text, without the sentinel and line terminator. */
      readonly text: string;
      /** True when the frame contained the 0xFF sentinel (the text is what followed its last occurrence). */
      readonly delimited: boolean;
    }
  | {
      readonly type: "invalid";
      /** The frame's text after the last sentinel, decoded as UTF-8 with replacement characters. */
      readonly text: string;
      readonly delimited: boolean;
    };

// Not fatal: bytes that are not UTF-8 become U+FFFD, and JSON.parse then decides.
const utf8 = new TextDecoder("utf-8");

/** Decodes one frame. Never throws: the channel may carry anything before a resync. */
export function decodeFrame(frame: Uint8Array): QGAMessage {
  const sentinel = frame.lastIndexOf(SENTINEL);
  const delimited = sentinel !== -1;
  const text = utf8.decode(delimited ? frame.subarray(sentinel + 1) : frame);
  try {
    return { type: "json", value: JSON.parse(text), text, delimited };
  } catch {
    return { type: "invalid", text, delimited };
  }
}

// TypeScript 7's lib lacks JSON.rawJSON (TC39 "JSON.parse source text access"), which Bun implements.
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** Builds an outbound command message. `bigint` arguments are written as exact JSON integers. */
export function commandMessage(execute: string, args?: Readonly<Record<string, unknown>>): QGAMessage {
  const value = args === undefined ? { execute } : { execute, arguments: args };
  const text = JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "bigint" ? rawJSON(v.toString()) : v,
  );
  return { type: "json", value, text, delimited: false };
}

/** The bytes for an outbound message. */
export function encodeFrame(message: QGAMessage): string {
  return `${message.text}\n`;
}

/** The 0xFF byte a client sends before guest-sync-delimited. */
export function sentinelBytes(): Uint8Array {
  return SENTINEL_BYTES;
}

/** A fresh sync id: random, positive, 31 bits (exact in every JSON implementation an agent might use). */
export function randomSyncId(): number {
  const [word] = crypto.getRandomValues(new Uint32Array(1));
  return (word as number) >>> 1 || 1;
}

/** True for the agent's reply to *our* guest-sync-delimited: behind the sentinel, returning exactly `id`. */
export function isSyncReply(message: QGAMessage, id: number): boolean {
  return (
    message.type === "json" && message.delimited && isObject(message.value) && message.value.return === id
  );
}

/** A reply is an object with `return` or `error`; anything else is not an answer to a command. */
export function isReply(value: unknown): value is { return?: unknown; error?: unknown } {
  return isObject(value) && ("return" in value || "error" in value);
}

/** Reads the `return` member of a reply's text with integers beyond 2^53 kept exact, as bigint. */
export function parseExactReturn(text: string): unknown {
  const parsed = JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
    if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined) {
      if (/^-?\d+$/.test(context.source)) return BigInt(context.source);
    }
    return value;
  }) as { return?: unknown };
  return parsed.return;
}

/** A plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Base64 of bytes (the agent's encoding for file data, exec input and output). */
export function toBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/** Bytes of base64 text; an empty or absent string gives no bytes. */
export function fromBase64(text: string | undefined): Uint8Array {
  return text ? Uint8Array.fromBase64(text) : new Uint8Array(0);
}
