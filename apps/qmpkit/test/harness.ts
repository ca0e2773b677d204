import { Readable } from "node:stream";
import { ExecuteError } from "@qmpkit/qmp";
import type { CliIO } from "../src/cli.ts";
import type { ConnectionOptions, QMPEventLike, Session, Target } from "../src/session.ts";

/** @qmpkit/qmp's ExecuteError for a reply `{"error": {"class": errorClass, "desc": desc}}`. */
export class FakeExecuteError extends ExecuteError {
  constructor(errorClass: string, desc: string, command = "stub") {
    const error = { class: errorClass, desc };
    super({ error }, error, { execute: command });
  }
}

export interface StubSession extends Session {
  readonly calls: { command: string; args: Record<string, unknown> | undefined }[];
  readonly raw: Record<string, unknown>[];
  readonly eventFilters: (readonly string[] | undefined)[];
  closed: number;
}

type Handler = (args: Record<string, unknown> | undefined) => unknown;

/**
 * A scripted session: each command runs its handler (a value or a function); unknown commands
 * fail like QEMU's CommandNotFound. `events` are delivered to every listener, then it waits.
 */
export function stubSession(handlers: Record<string, unknown>, events: QMPEventLike[] = []): StubSession {
  const session: StubSession = {
    greeting: {
      QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: "" }, capabilities: [] },
    },
    calls: [],
    raw: [],
    eventFilters: [],
    closed: 0,
    async execute(command, args) {
      session.calls.push({ command, args });
      if (!Object.hasOwn(handlers, command)) {
        throw new FakeExecuteError("CommandNotFound", `The command ${command} has not been found`);
      }
      const handler = handlers[command];
      return typeof handler === "function" ? (handler as Handler)(args) : handler;
    },
    async sendRaw(message) {
      session.raw.push(message);
      if (message.execute === "fail") return { error: { class: "GenericError", desc: "failed" } };
      return { return: { echoed: message }, ...(message.id === undefined ? {} : { id: message.id }) };
    },
    async *events(options = {}) {
      session.eventFilters.push(options.names);
      for (const event of events) {
        if (!options.names || options.names.includes(event.event)) yield event;
      }
      const signal = options.signal;
      if (signal && !signal.aborted) {
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      }
    },
    async close() {
      session.closed++;
    },
  };
  return session;
}

export interface Captured {
  readonly io: CliIO;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly targets: Target[];
  readonly options: ConnectionOptions[];
}

/** In-memory stdio for `main()`; `session` (if given) is what every connection opens. */
export function captureIO(
  setup: {
    stdin?: string;
    tty?: boolean;
    env?: Record<string, string>;
    session?: Session;
    connectError?: Error;
  } = {},
): Captured {
  let out = "";
  let err = "";
  const targets: Target[] = [];
  const options: ConnectionOptions[] = [];
  const io: CliIO = {
    stdout: { isTTY: setup.tty ?? false, write: (s: string) => (out += s) },
    stderr: { isTTY: false, write: (s: string) => (err += s) },
    stdin: Object.assign(Readable.from(setup.stdin === undefined ? [] : [setup.stdin]), { isTTY: false }),
    env: setup.env ?? {},
    ...(setup.session || setup.connectError
      ? {
          openClient: async (target: Target, opts: ConnectionOptions) => {
            targets.push(target);
            options.push(opts);
            if (setup.connectError) throw setup.connectError;
            return setup.session as Session;
          },
        }
      : {}),
  };
  return { io, stdout: () => out, stderr: () => err, targets, options };
}

/** Rejects with a clear message if `promise` does not settle within `ms`; the timer never outlives it. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
