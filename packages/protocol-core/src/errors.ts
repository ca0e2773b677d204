import type { Runstate } from "./runstate.ts";

// Brands every qmpkit error so `instanceof` still holds when an application ends up with two copies of a package
// (two workspace versions, or a bundled and an installed one), for the base class and for every subclass: an
// instance lists the names of the classes it was made from (`kBrands`), and each class's `instanceof` checks its
// own name there when the ordinary prototype check fails (undici's pattern, without a symbol per class).
const kQmpkitError = Symbol.for("qmpkit.error");
const kBrands = Symbol.for("qmpkit.error.brands");

/** Options accepted by every qmpkit error constructor. */
export interface QMPErrorOptions {
  /** The error that led to this one. */
  cause?: unknown;
}

/**
 * Base class of every error qmpkit throws. Branch on {@link QMPError.code}, never on the message text.
 *
 * @example
 * try { await client.execute("stop"); } catch (err) { if (err instanceof QMPError) console.error(err.code); }
 */
export class QMPError extends Error {
  override name = "QMPError";
  /** A stable, machine-readable identifier of the failure. @default "QMP_ERR" */
  code = "QMP_ERR";

  constructor(message: string, options?: QMPErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    Error.captureStackTrace?.(this, new.target);
  }

  get [kQmpkitError](): true {
    return true;
  }

  /** The names of this error's classes, most derived first, up to `QMPError`. */
  get [kBrands](): readonly string[] {
    const names: string[] = [];
    for (let proto = Object.getPrototypeOf(this); proto !== null; proto = Object.getPrototypeOf(proto)) {
      const name = (proto.constructor as { name?: unknown } | undefined)?.name;
      if (typeof name === "string") names.push(name);
      if (name === "QMPError") break;
    }
    return names;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== "object" || value === null) return false;
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof.
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    const record = value as Record<symbol, unknown>;
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof.
    if (this === QMPError) return record[kQmpkitError] === true;
    const brands = record[kBrands];
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof.
    return Array.isArray(brands) && brands.includes(this.name);
  }
}

/**
 * A one-line description of any thrown value: `ECONNREFUSED: Failed to connect` for a system error,
 * `GreetingError: <message>` for a qmpkit error, the message alone otherwise.
 */
export function summarizeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message || error.name;
  if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code) && !message.startsWith(code))
    return `${code}: ${message}`;
  if (error instanceof QMPError) return `${error.name}: ${message}`;
  return message;
}

/**
 * Connecting, or establishing the session after connecting, failed. The root cause is `cause`; `code` is copied
 * from it when it has one (`ENOENT`, `ECONNREFUSED`, …) and is `QMP_ERR_CONNECT` otherwise.
 */
export class ConnectError extends QMPError {
  override name = "ConnectError";
  /** The bare description, without the cause appended. */
  readonly errorMessage: string;

  constructor(errorMessage: string, cause: unknown) {
    super(`${errorMessage}: ${summarizeError(cause)}`, { cause });
    this.errorMessage = errorMessage;
    const causeCode = (cause as { code?: unknown } | null)?.code;
    this.code = typeof causeCode === "string" ? causeCode : "QMP_ERR_CONNECT";
  }
}

/** A method was called in a runstate that does not allow it. */
export class StateError extends QMPError {
  override name = "StateError";
  override code = "QMP_ERR_STATE";
  readonly state: Runstate;
  readonly required: Runstate;

  constructor(message: string, state: Runstate, required: Runstate) {
    super(message);
    this.state = state;
    this.required = required;
  }
}

/** The peer broke the protocol: undecodable data, an oversized message, a reply that makes no sense. */
export class ProtocolError extends QMPError {
  override name = "ProtocolError";
  override code = "QMP_ERR_PROTOCOL";
}

/** One inbound message grew past the configured byte limit before its terminator arrived. */
export class FrameTooLargeError extends ProtocolError {
  override name = "FrameTooLargeError";
  override code = "QMP_ERR_FRAME_TOO_LARGE";
  readonly limit: number;

  constructor(limit: number) {
    super(`Inbound message exceeds the limit of ${limit} bytes (maxMessageBytes)`);
    this.limit = limit;
  }
}

/** The peer closed or reset the connection while the session was running. */
export class ConnectionClosedError extends QMPError {
  override name = "ConnectionClosedError";
  override code = "QMP_ERR_CLOSED";

  constructor(message = "Connection closed by peer", options?: QMPErrorOptions) {
    super(message, options);
  }
}

/** An operation did not finish within its `timeoutMs`. */
export class TimeoutError extends QMPError {
  override name = "TimeoutError";
  override code = "QMP_ERR_TIMEOUT";

  constructor(message: string, code = "QMP_ERR_TIMEOUT") {
    super(message);
    this.code = code;
  }
}

/**
 * A unix socket kept refusing connections although its file exists: the listener is busy. QEMU's monitor serves one
 * client and queues two more (qemu-ga the same while it is busy); the next connect fails at once with EAGAIN,
 * which reports as `ECONNREFUSED`, like a socket nobody listens on. `connect()` retries such a refusal within its
 * timeout and then fails with this (as the `cause` of its `ConnectError`).
 */
export class ListenerBusyError extends QMPError {
  override name = "ListenerBusyError";
  override code = "QMP_ERR_BUSY";
  /** The socket's path. */
  readonly path: string;

  constructor(path: string, waitedMs: number, options?: QMPErrorOptions) {
    super(
      `${path} refused every connection for ${Math.round(waitedMs)} ms: the monitor is busy (QEMU serves one client at a time)`,
      options,
    );
    this.path = path;
  }
}

/**
 * A message was refused because the peer is not reading and the outgoing queue already holds
 * `maxBufferedWriteBytes`. Nothing was queued; the session goes on, and the call may be retried once the peer reads.
 */
export class BackpressureError extends QMPError {
  override name = "BackpressureError";
  override code = "QMP_ERR_BACKPRESSURE";
  readonly limit: number;

  constructor(limit: number) {
    super(`The peer is not reading: ${limit} bytes are already queued for it (maxBufferedWriteBytes)`);
    this.limit = limit;
  }
}
