/**
 * Options of the QMP client: what a caller may pass to the constructor, to `connect()`/`accept()` and to each
 * command, and how per-call session options fall back to the constructor's, then to the defaults.
 *
 * @module
 */

import type { ConnectOptions, ProtocolOptions } from "@qmpkit/protocol-core";
import type { GetOptions } from "./events.ts";
import type { EventLike, QMPEvent, QMPMessage } from "./messages.ts";

/** @default 10 000 ms */
export const DEFAULT_GREETING_TIMEOUT_MS = 10_000;
/** @default 10 000 ms */
export const DEFAULT_NEGOTIATION_TIMEOUT_MS = 10_000;

/** How a session is set up after the transport connects. */
export interface SessionOptions {
  /** Read and check the greeting first. Turn off only for raw sessions. @default true */
  awaitGreeting?: boolean | undefined;
  /** Send `qmp_capabilities` (leaving QEMU's negotiation mode). @default true */
  negotiate?: boolean | undefined;
  /** Enable out-of-band execution when the server offers it. @default true */
  oob?: boolean | undefined;
  /**
   * Fail when no greeting arrives within this time (a SIGSTOPped QEMU, or a second client on QEMU's single-client
   * monitor, never greets). @default 10000
   */
  greetingTimeoutMs?: number | undefined;
  /** Fail when `qmp_capabilities` is not answered within this time. @default 10000 */
  negotiationTimeoutMs?: number | undefined;
}

/** Options of a {@link QMPClient}. Session options given here are defaults for every `connect()`/`accept()`. */
export interface QMPClientOptions extends ProtocolOptions<QMPMessage>, SessionOptions {
  /**
   * Check every command's arguments against the live QAPI schema before sending (fetched with `query-qmp-schema`
   * once per session, on first use); a mismatch rejects with {@link QMPValidationError} and nothing is sent.
   * @default false
   */
  validate?: boolean | undefined;
  /**
   * Return integers beyond 2^53 (QEMU's uint64 sizes, offsets and counters) as exact `bigint`s instead of the
   * nearest `number`. Replies and events then hold `number | bigint` where such values occur; the generated types
   * still say `number`. @default false
   */
  bigints?: boolean | undefined;
}

/** Retrying a connection while QEMU starts (the socket does not exist yet, or nobody listens yet). */
export interface RetryOptions {
  /** The most connection attempts, the first included. Only `ENOENT` and `ECONNREFUSED` are retried. */
  attempts: number;
  /** The pause between two attempts. */
  delayMs: number;
}

/** Options of {@link QMPClient.connect}. `timeoutMs` bounds the whole call, retries included. */
export interface QMPConnectOptions extends ConnectOptions, SessionOptions {
  /** Retry `ENOENT`/`ECONNREFUSED` failures. @default no retry */
  retry?: RetryOptions | undefined;
}

/** Options of {@link QMPClient.accept} / {@link QMPClient.startServerAndAccept}. */
export interface QMPAcceptOptions extends Omit<ConnectOptions, "tls">, SessionOptions {}

/** Per-command options. */
export interface ExecuteOptions {
  /** Rejects at once with `signal.reason` when aborted; the late reply is dropped. */
  signal?: AbortSignal | undefined;
  /** Rejects with a {@link TimeoutError} (`QMP_ERR_TIMEOUT`) when no reply came in time. @default no limit */
  timeoutMs?: number | undefined;
  /** Send as `exec-oob` (out-of-band). Requires OOB to have been negotiated. @default false */
  oob?: boolean | undefined;
}

/** Options of {@link QMPClient.waitForEvent}. */
export interface WaitForEventOptions<Ev extends EventLike = QMPEvent> extends GetOptions {
  /** Only an event for which this returns true. */
  filter?: ((event: Ev) => boolean) | undefined;
}

/** Everything {@link connect} accepts: client options plus connect options. */
export interface ConnectFunctionOptions extends QMPClientOptions, QMPConnectOptions {}

/** Session options with every default filled in. */
export type ResolvedSession = { [K in keyof SessionOptions]-?: Exclude<SessionOptions[K], undefined> };

const SESSION_KEYS = [
  "awaitGreeting",
  "negotiate",
  "oob",
  "greetingTimeoutMs",
  "negotiationTimeoutMs",
] as const;

/** The session options among `options` (the constructor's, kept as defaults). */
export function pickSession(options: SessionOptions): SessionOptions {
  const picked: SessionOptions = {};
  for (const key of SESSION_KEYS) {
    const value = options[key];
    if (value !== undefined) (picked as Record<string, unknown>)[key] = value;
  }
  return picked;
}

/** `options` without its session options: what the transport layer takes. */
export function withoutSession<O extends SessionOptions>(options: O): Omit<O, keyof SessionOptions> {
  const rest: Record<string, unknown> = { ...(options as SessionOptions) };
  for (const key of SESSION_KEYS) delete rest[key];
  return rest as Omit<O, keyof SessionOptions>;
}

/** One attempt's session options: the call's, else the constructor's, else the defaults. */
export function resolveSession(defaults: SessionOptions, overrides: SessionOptions): ResolvedSession {
  return {
    awaitGreeting: overrides.awaitGreeting ?? defaults.awaitGreeting ?? true,
    negotiate: overrides.negotiate ?? defaults.negotiate ?? true,
    oob: overrides.oob ?? defaults.oob ?? true,
    greetingTimeoutMs:
      overrides.greetingTimeoutMs ?? defaults.greetingTimeoutMs ?? DEFAULT_GREETING_TIMEOUT_MS,
    negotiationTimeoutMs:
      overrides.negotiationTimeoutMs ?? defaults.negotiationTimeoutMs ?? DEFAULT_NEGOTIATION_TIMEOUT_MS,
  };
}
