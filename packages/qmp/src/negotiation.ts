/**
 * Session set-up: read QEMU's greeting, then leave capabilities-negotiation mode with `qmp_capabilities`.
 *
 * Both run before the session is RUNNING, on messages read one at a time with `recv()`. The negotiation request
 * is the smallest QEMU accepts: no `id` (nothing else is in flight, so the next id-less reply is its answer) and
 * no `arguments` unless out-of-band execution is enabled.
 *
 * @module
 */

import { Deadline, type Logger, raceAbort, TimeoutError } from "@qmpkit/protocol-core";
import { NegotiationError } from "./errors.ts";
import { type Greeting, isErrorBody, parseGreeting, previewJson, type QMPMessage } from "./messages.ts";
import type { ResolvedSession } from "./options.ts";

/** What set-up needs from the client: the pre-session message stream and a place for early events. */
export interface SetupWire {
  recv(): Promise<QMPMessage>;
  send(message: QMPMessage): void;
  /** An event that arrived during negotiation (QEMU may send one at any time). */
  onEvent(message: QMPMessage): void;
  readonly logger: Logger;
}

/** What set-up established. */
export interface Established {
  greeting: Greeting | undefined;
  capabilities: readonly string[];
}

/** Reads the greeting (unless told not to), then negotiates (unless told not to), within the session's bounds. */
export async function establish(
  wire: SetupWire,
  session: ResolvedSession,
  signal: AbortSignal,
): Promise<Established> {
  const result: Established = { greeting: undefined, capabilities: [] };
  if (session.awaitGreeting) {
    // try/finally rather than `using`: the same release, without the ~0.05 ms a compiled CLI pays for the first
    // `using` (a builtin's set-up) on its one connection.
    const deadline = new Deadline({
      timeoutMs: session.greetingTimeoutMs,
      signal,
      onTimeout: () =>
        new TimeoutError(
          `No QMP greeting within ${session.greetingTimeoutMs} ms (is another client connected, or QEMU stopped?)`,
          "QMP_ERR_GREETING_TIMEOUT",
        ),
    });
    try {
      let first = await raceAbort(wire.recv(), deadline.signal);
      // QEMU 7.2 queues an event raised before any client connected (RESUME as the VM starts) and hands it to the
      // first client ahead of the greeting. It is a real event: deliver it, and keep waiting for the greeting.
      while (typeof first.event === "string" && first.QMP === undefined) {
        wire.onEvent(first);
        first = await raceAbort(wire.recv(), deadline.signal);
      }
      result.greeting = parseGreeting(first);
    } finally {
      deadline.clear();
    }
  }
  if (session.negotiate) await negotiate(wire, session, signal, result);
  return result;
}

async function negotiate(
  wire: SetupWire,
  session: ResolvedSession,
  signal: AbortSignal,
  result: Established,
): Promise<void> {
  const enable = session.oob && result.greeting?.QMP.capabilities.includes("oob") === true ? ["oob"] : [];
  wire.send(
    enable.length === 0
      ? { execute: "qmp_capabilities" }
      : { execute: "qmp_capabilities", arguments: { enable } },
  );
  const deadline = new Deadline({
    timeoutMs: session.negotiationTimeoutMs,
    signal,
    onTimeout: () =>
      new TimeoutError(
        `qmp_capabilities got no reply within ${session.negotiationTimeoutMs} ms`,
        "QMP_ERR_NEGOTIATION_TIMEOUT",
      ),
  });
  try {
    while (true) {
      const reply = await raceAbort(wire.recv(), deadline.signal);
      if (typeof reply.event === "string") {
        wire.onEvent(reply);
        continue;
      }
      if (reply.QMP !== undefined) {
        // A session that skipped awaitGreeting gets the greeting here. A second one is QEMU's too: a client that
        // connects right after another left (a readiness probe) can get the greeting meant for that one as well.
        if (result.greeting === undefined) result.greeting = parseGreeting(reply);
        else if (wire.logger.enabled) wire.logger.debug("Dropped a second greeting");
        continue;
      }
      if (reply.id !== undefined) {
        if (wire.logger.enabled)
          wire.logger.warn("Dropped a reply with an id during negotiation (none was sent)");
        continue;
      }
      if ("return" in reply) {
        result.capabilities = enable;
        return;
      }
      throw new NegotiationError(
        isErrorBody(reply.error)
          ? `QMP negotiation failed: ${reply.error.desc}`
          : `QMP negotiation failed: the reply has neither "return" nor "error": ${previewJson(reply)}`,
        isErrorBody(reply.error) ? { errorClass: reply.error.class } : {},
      );
    }
  } finally {
    deadline.clear();
  }
}
