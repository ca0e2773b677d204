import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SocketWriter } from "@qmpkit/protocol-core";
import type { Socket, UnixSocketListener } from "bun";
import { QMPCommandError } from "../errors.ts";
import type { ParsedInput } from "../monitor/json-stream.ts";
import { encodeQemuJson } from "../qjson.ts";
import { builtinHandlers, type FakeQGAState } from "./fake-qga-commands.ts";
import { AgentInputStream } from "./input.ts";
import { type FakeQGAContext, type FakeQGAFaults, type FakeQGAHandler, NO_REPLY } from "./types.ts";

export type { FakeQGAFaults } from "./types.ts";

/** Options of {@link createFakeQGA}. */
export interface FakeQGAOptions {
  /** The unix socket to listen on. @default `qga.sock` in a fresh 0700 temp dir, removed by `close()` */
  path?: string;
  /** Faults from the start; `fake.faults` can be changed at any time. @default none */
  faults?: FakeQGAFaults;
  /** The version `guest-info` reports. @default "7.2.22" */
  version?: string;
  /**
   * The largest JSON token, and message, the agent takes (QEMU's lexer limit); past it the agent answers `JSON token
   * size limit exceeded` and goes on, as qemu-ga does. @default 64 MiB
   */
  maxLineBytes?: number;
}

/** One command the fake received. */
export interface FakeQGACall {
  /** Which client sent it (1, 2, … in accept order). */
  client: number;
  execute: string;
  arguments: Record<string, unknown> | undefined;
  /** `Date.now()` when it was parsed. */
  at: number;
}

/**
 * A scriptable fake QEMU guest agent on a unix socket. By default it answers like qemu-ga 7.2 (byte-exact JSON).
 * It reads a JSON stream as qemu-ga does: no newline needed, joined commands, a message a client left half-sent
 * completed by the next client. The 0xFF byte gets the agent's GenericError, `guest-sync-delimited` is answered
 * behind a 0xFF sentinel, and
 * `guest-sync`, `guest-ping`, `guest-info`, `guest-get-osinfo`, `guest-get-time`, `guest-shutdown` and the
 * fsfreeze commands work, with qemu-ga's JSON bytes (QDict key order included). Every client is served at once
 * and on its own (qemu-ga serves one at a time), each one's commands strictly in order.
 */
export interface FakeQGA extends AsyncDisposable {
  /** The socket path, for `QGAClient.connect()`. */
  readonly address: string;
  /** Faults in effect; assign to change them mid-test. */
  faults: FakeQGAFaults;
  /** Every command received, from every connection, in arrival order. */
  readonly received: readonly FakeQGACall[];
  /** How many 0xFF bytes clients sent (each one a resynchronisation). */
  readonly sentinelsReceived: number;
  /**
   * Adds or replaces a command. The handler returns the `return` value (or a promise of it), throws
   * `QMPCommandError` for an error reply, or returns `ctx.noReply` to stay silent.
   */
  handle(command: string, handler: FakeQGAHandler): void;
  /** Resolves with the `count`-th call of `command` (1-based, counting calls already received). */
  waitFor(command: string, count?: number): Promise<FakeQGACall>;
  /** Stops listening, closes every connection, removes the temp dir. Idempotent. */
  close(): Promise<void>;
}

interface Request {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: unknown;
}

interface Connection {
  readonly id: number;
  readonly socket: Socket<unknown>;
  readonly writer: SocketWriter;
  readonly input: AgentInputStream;
  /** Inputs are handled one after another, as the agent's single thread does. */
  chain: Promise<void>;
  /** Whether this client's input ended and its stream went to the next client. */
  inputReleased: boolean;
}

const encoder = new TextEncoder();

/**
 * Starts a fake guest agent.
 *
 * @example
 * await using fake = await createFakeQGA({ faults: { staleSyncReply: true } });
 * fake.handle("guest-get-host-name", () => ({ "host-name": "vm1" }));
 * await using qga = new QGAClient();
 * await qga.connect(fake.address);
 */
export async function createFakeQGA(options: FakeQGAOptions = {}): Promise<FakeQGA> {
  const tempDir = options.path === undefined ? mkdtempSync(join(tmpdir(), "qmpkit-fake-qga-")) : undefined;
  const path = options.path ?? join(tempDir as string, "qga.sock");
  const maxLineBytes = options.maxLineBytes ?? 64 * 1024 * 1024;
  const received: FakeQGACall[] = [];
  const waiters: { command: string; count: number; resolve: (call: FakeQGACall) => void }[] = [];
  const connections = new Map<Socket<unknown>, Connection>();
  const state: FakeQGAState = { version: options.version ?? "7.2.22", frozen: false, handlers: new Map() };
  for (const [name, handler] of builtinHandlers(() => fake.faults, state)) state.handlers.set(name, handler);
  let nextConnection = 1;
  let sentinels = 0;
  // qemu-ga has one parser for its life: the stream of the client that left last goes to the next one.
  let leftInput: AgentInputStream | undefined;
  let closing: Promise<void> | undefined;

  const fake: FakeQGA = {
    address: path,
    faults: { ...options.faults },
    received,
    get sentinelsReceived() {
      return sentinels;
    },
    handle(command, handler) {
      state.handlers.set(command, handler);
    },
    waitFor(command, count = 1) {
      const seen = received.filter((call) => call.execute === command);
      const hit = seen[count - 1];
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve) => waiters.push({ command, count, resolve }));
    },
    close() {
      closing ??= (async () => {
        server.stop(true);
        for (const socket of connections.keys()) socket.terminate();
        connections.clear();
        if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
        else rmSync(path, { force: true });
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return fake.close();
    },
  };

  const record = (call: FakeQGACall): void => {
    received.push(call);
    const count = received.filter((c) => c.execute === call.execute).length;
    for (const waiter of waiters.splice(0)) {
      if (waiter.command === call.execute && waiter.count === count) waiter.resolve(call);
      else waiters.push(waiter);
    }
  };

  const send = (conn: Connection, bytes: Uint8Array): Promise<void> => {
    conn.writer.splitBytes(fake.faults.splitReplies === true);
    conn.writer.write(bytes);
    return conn.writer.flushed();
  };
  const reply = (conn: Connection, body: Record<string, unknown>): Promise<void> =>
    send(conn, encoder.encode(`${encodeQemuJson(body, true)}\n`));
  const error = (errorClass: string, desc: string, id?: unknown): Record<string, unknown> => ({
    error: { class: errorClass, desc },
    id,
  });

  // Commands are recorded as they arrive, so a test can see what a client sent while an earlier command is still
  // being handled; handling itself is serial per client, as in qemu-ga's single thread.
  const acceptInput = (conn: Connection, input: ParsedInput): (() => Promise<void>) => {
    if (!input.ok) return () => reply(conn, error("GenericError", input.error));
    const message = input.value;
    const problem = requestProblem(message);
    if (problem !== undefined) {
      // The agent reads the id before it checks the rest of the request, so these errors carry it.
      const id = isRecord(message) ? message.id : undefined;
      return () => reply(conn, error("GenericError", problem, id));
    }
    const request = message as Request;
    record({ client: conn.id, execute: request.execute, arguments: request.arguments, at: Date.now() });
    return () => runCommand(conn, request);
  };

  // No more bytes come from this client: its parser, half-sent message included, is the next client's.
  const releaseInput = (conn: Connection): void => {
    if (conn.inputReleased || closing !== undefined) return;
    conn.inputReleased = true;
    leftInput = conn.input;
  };

  const runCommand = async (conn: Connection, request: Request): Promise<void> => {
    if (fake.faults.neverAnswer?.includes(request.execute)) return;
    const handler = state.handlers.get(request.execute);
    if (handler === undefined) {
      return reply(
        conn,
        error("CommandNotFound", `The command ${request.execute} has not been found`, request.id),
      );
    }
    const context: FakeQGAContext = {
      client: conn.id,
      command: request.execute,
      id: request.id,
      noReply: NO_REPLY,
      sendRaw: (data: string | Uint8Array) =>
        send(conn, typeof data === "string" ? encoder.encode(data) : data),
      // Bun's end() alone would drop what the kernel has not taken yet.
      disconnect: () => void conn.writer.flushed().then(() => conn.socket.end()),
    };
    try {
      const value = await handler(request.arguments ?? {}, context);
      if (value === NO_REPLY) return;
      return reply(conn, { return: value ?? {}, id: request.id });
    } catch (thrown) {
      if (thrown instanceof QMPCommandError)
        return reply(conn, error(thrown.errorClass, thrown.desc, request.id));
      return reply(
        conn,
        error("GenericError", thrown instanceof Error ? thrown.message : String(thrown), request.id),
      );
    }
  };

  const server: UnixSocketListener<unknown> = Bun.listen({
    unix: path,
    // A client may shut down its sending side after its last command and still read the reply.
    allowHalfOpen: true,
    socket: {
      open(socket) {
        const input = leftInput ?? new AgentInputStream(maxLineBytes);
        leftInput = undefined;
        const conn: Connection = {
          id: nextConnection++,
          socket,
          writer: new SocketWriter(socket),
          input,
          chain: Promise.resolve(),
          inputReleased: false,
        };
        connections.set(socket, conn);
        input.attach((parsed) => {
          // Handlers catch their own errors; a failed write (client gone) must not stall later input.
          conn.chain = conn.chain.then(acceptInput(conn, parsed)).catch(() => {});
        });
      },
      data(socket, chunk) {
        const conn = connections.get(socket);
        if (conn !== undefined) sentinels += conn.input.push(chunk);
      },
      end(socket) {
        // A half-close: qemu-ga answers what was complete, then closes; a half-sent message stays in its parser.
        const conn = connections.get(socket);
        if (conn === undefined) return;
        releaseInput(conn);
        conn.chain = conn.chain
          .then(() => conn.writer.flushed())
          .then(() => {
            socket.end();
          })
          .catch(() => {});
      },
      drain(socket) {
        connections.get(socket)?.writer.onDrain();
      },
      close(socket) {
        const conn = connections.get(socket);
        if (conn === undefined) return;
        conn.writer.drop();
        releaseInput(conn);
        connections.delete(socket);
      },
      error() {},
    },
  });
  return fake;
}

/** qemu-ga's checks on the request object itself, with its messages (recorded from qemu-ga 7.2). */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function requestProblem(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    return "QMP input must be a JSON object";
  }
  const request = message as Record<string, unknown>;
  for (const key of Object.keys(request)) {
    if (key !== "execute" && key !== "arguments" && key !== "id")
      return `QMP input member '${key}' is unexpected`;
  }
  if (!("execute" in request)) return "QMP input lacks member 'execute'";
  if (typeof request.execute !== "string") return "QMP input member 'execute' must be a string";
  const args = request.arguments;
  if (args !== undefined && (typeof args !== "object" || args === null || Array.isArray(args))) {
    return "QMP input member 'arguments' must be an object";
  }
  return undefined;
}
