/**
 * Framing as QEMU reads it, checked byte for byte on both targets: QEMU's monitor parses a byte stream and answers
 * a message the moment its braces balance, so no newline is needed; a client that shuts down its sending side
 * after its last request still gets the reply, then QEMU closes. Recorded from QEMU 7.2 (Bun and Python
 * clients, 2026-12-06) before the fake was made to match.
 */
import { expect, test } from "bun:test";
import type { Socket } from "bun";
import type { QemuRelease } from "../../src/index.ts";
import { connectRaw, within } from "../helpers.ts";
import type { ConnectTarget } from "./scenarios.ts";

const BOUND_MS = 10_000;
// Starting a real QEMU on a loaded 2-core machine can take seconds: the bounds inside each scenario are the limit.
const SCENARIO_TIMEOUT_MS = 3 * BOUND_MS;
const REPLY = (id: number) => `{"return": {}, "id": ${id}}\r\n`;

interface Exchange {
  /** Everything the server wrote after the negotiation reply. */
  readonly text: string;
  /** Whether the server closed the connection. */
  readonly closed: boolean;
}

/**
 * Negotiates (no newline either), writes `input`, optionally half-closes, and collects the server's output until
 * `until` holds.
 */
async function exchange(
  address: string,
  input: string,
  options: { halfClose?: boolean; until: (text: string, closed: boolean) => boolean },
): Promise<Exchange> {
  let received = "";
  let closed = false;
  let wake: () => void = () => {};
  const handlers = {
    data(_socket: Socket<undefined>, chunk: Buffer) {
      received += chunk.toString("latin1");
      wake();
    },
    close() {
      closed = true;
      wake();
    },
    error() {
      closed = true;
      wake();
    },
  };
  // allowHalfOpen: after shutdown() the socket keeps reading until the server closes.
  const socket = await connectRaw(address, handlers, { allowHalfOpen: true });
  const waitFor = (done: () => boolean, what: string) =>
    within(
      (async () => {
        while (!done()) {
          if (closed) throw new Error(`closed while waiting for ${what}: ${JSON.stringify(received)}`);
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      })(),
      BOUND_MS,
      what,
    );
  try {
    await waitFor(() => received.includes("\r\n"), "the greeting");
    received = "";
    socket.write('{"execute":"qmp_capabilities"}');
    await waitFor(() => received.includes("\r\n"), "the negotiation reply");
    received = "";
    socket.write(input);
    if (options.halfClose) socket.shutdown();
    await within(
      (async () => {
        while (!options.until(received, closed)) {
          if (closed) break;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      })(),
      BOUND_MS,
      "the replies",
    );
    return { text: received, closed };
  } finally {
    socket.terminate();
  }
}

const lines = (count: number) => (text: string) => text.split("\r\n").length - 1 >= count;

/** Registers the framing scenarios under the current `describe`. */
export function framingScenarios(connectTarget: ConnectTarget, _version: QemuRelease = "7.2"): void {
  async function run(
    input: string,
    options: { halfClose?: boolean; until: (text: string, closed: boolean) => boolean },
  ): Promise<Exchange> {
    const target = await connectTarget();
    try {
      return await exchange(target.address, input, options);
    } finally {
      await target.dispose();
    }
  }

  test(
    "framing: a message with no newline is answered at its closing brace",
    async () => {
      const result = await run('{"execute":"query-name","id":1}', { until: lines(1) });
      expect(result).toEqual({ text: REPLY(1), closed: false });
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    "framing: two messages joined with no newline get two replies",
    async () => {
      const result = await run('{"execute":"query-name","id":1}{"execute":"query-name","id":2}', {
        until: lines(2),
      });
      expect(result).toEqual({ text: REPLY(1) + REPLY(2), closed: false });
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    "framing: CR-only terminators",
    async () => {
      const result = await run('{"execute":"query-name","id":1}\r{"execute":"query-name","id":2}\r', {
        until: lines(2),
      });
      expect(result).toEqual({ text: REPLY(1) + REPLY(2), closed: false });
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    "framing: a pretty-printed message whose last brace has no newline",
    async () => {
      const result = await run('{\n  "execute": "query-name",\n  "id": 3\n}', { until: lines(1) });
      expect(result).toEqual({ text: REPLY(3), closed: false });
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    "framing: a final message then a half-close is answered, then the server closes",
    async () => {
      const result = await run('{"execute":"query-name","id":4}', {
        halfClose: true,
        until: (_text, closed) => closed,
      });
      expect(result).toEqual({ text: REPLY(4), closed: true });
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    "framing: at a half-close, a half-received message is dropped silently; complete ones are answered",
    async () => {
      const result = await run('{"execute":"query-name","id":5} {"execute":"query-na', {
        halfClose: true,
        until: (_text, closed) => closed,
      });
      expect(result).toEqual({ text: REPLY(5), closed: true });
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    "framing: a number at the end of input is no message: nothing delimits it",
    async () => {
      // Followed by a space, "42" would be a message of its own ("QMP input must be a JSON object").
      const result = await run('{"execute":"query-name","id":6} 42', {
        halfClose: true,
        until: (_text, closed) => closed,
      });
      expect(result).toEqual({ text: REPLY(6), closed: true });
    },
    SCENARIO_TIMEOUT_MS,
  );
}
