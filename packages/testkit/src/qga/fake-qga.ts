import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SocketWriter } from "@qmpkit/protocol-core";
import type { Socket, UnixSocketListener } from "bun";
import { QmpCommandError } from "../errors.ts";
import { encodeQemuJson } from "../qjson.ts";
import { builtinHandlers, type FakeQgaState } from "./fake-qga-commands.ts";
import { AgentInputDecoder } from "./input.ts";
import { type FakeQgaContext, type FakeQgaFaults, type FakeQgaHandler, NO_REPLY } from "./types.ts";

export type { FakeQgaFaults } from "./types.ts";

/** Options of {@link createFakeQga}. */
export interface FakeQgaOptions {
  /** The unix socket to listen on. @default `qga.sock` in a fresh 0700 temp dir, removed by `close()` */
  path?: string;
  /** Faults from the start; `fake.faults` can be changed at any time. @default none */
  faults?: FakeQgaFaults;
  /** The version `guest-info` reports. @default "7.2.22" */
  version?: string;
  /** The longest command line accepted before the connection is dropped. @default 64 MiB */
  maxLineBytes?: number;
}

/** One command the fake received. */
export interface FakeQgaCall {
  /** Which client sent it (1, 2, … in accept order). */
  client: number;
  execute: string;
  arguments: Record<string, unknown> | undefined;
  /** `Date.now()` when it was parsed. */
  at: number;
}

/**
 * A scriptable fake QEMU guest agent on a unix socket. By default it answers like qemu-ga 7.2 (byte-exact JSON):
 * the 0xFF byte gets the agent's GenericError, `guest-sync-delimited` is answered behind a 0xFF sentinel, and
 * `guest-sync`, `guest-ping`, `guest-info`, `guest-get-osinfo`, `guest-get-time`, `guest-shutdown` and the
 * fsfreeze commands work, with qemu-ga's JSON bytes (QDict key order included). Every client is served at once
 * and on its own (qemu-ga serves one at a time), each one's commands strictly in order.
 */
export interface FakeQga extends AsyncDisposable {
  /** The socket path, for `QGAClient.connect()`. */
  readonly address: string;
  /** Faults in effect; assign to change them mid-test. */
  faults: FakeQgaFaults;
  /** Every command received, from every connection, in arrival order. */
  readonly received: readonly FakeQgaCall[];
  /** How many 0xFF bytes clients sent (each one a resynchronisation). */
  readonly sentinelsReceived: number;
  /**
   * Adds or replaces a command. The handler returns the `return` value (or a promise of it), throws
   * `QmpCommandError` for an error reply, or returns `ctx.noReply` to stay silent.
   */
  handle(command: string, handler: FakeQgaHandler): void;
  /** Resolves with the `count`-th call of `command` (1-based, counting calls already received). */
  waitFor(command: string, count?: number): Promise<FakeQgaCall>;
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
  readonly input: AgentInputDecoder;
  /** Inputs are handled one after another, as the agent's single thread does. */
  chain: Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Starts a fake guest agent.
 *
 * @example
 * await using fake = await createFakeQga({ faults: { staleSyncReply: true } });
 * fake.handle("guest-get-host-name", () => ({ "host-name": "vm1" }));
 * await using qga = new QGAClient();
 * await qga.connect(fake.address);
 */
export async function createFakeQga(options: FakeQgaOptions = {}): Promise<FakeQga> {
  const tempDir = options.path === undefined ? mkdtempSync(join(tmpdir(), "qmpkit-fake-qga-")) : undefined;
  const path = options.path ?? join(tempDir as string, "qga.sock");
  const maxLineBytes = options.maxLineBytes ?? 64 * 1024 * 1024;
  const received: FakeQgaCall[] = [];
  const waiters: { command: string; count: number; resolve: (call: FakeQgaCall) => void }[] = [];
  const connections = new Map<Socket<unknown>, Connection>();
  const state: FakeQgaState = { version: options.version ?? "7.2.22", frozen: false, handlers: new Map() };
  for (const [name, handler] of builtinHandlers(() => fake.faults, state)) state.handlers.set(name, handler);
  let nextConnection = 1;
  let sentinels = 0;
  let closing: Promise<void> | undefined;

  const fake: FakeQga = {
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

  const record = (call: FakeQgaCall): void => {
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
  const acceptLine = (conn: Connection, text: string): (() => Promise<void>) | undefined => {
    if (text.trim() === "") return undefined;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      const token = text.trim().split(/[\s{}[\]:,]/)[0] ?? "";
      return () => reply(conn, error("GenericError", `JSON parse error, invalid keyword '${token}'`));
    }
    const problem = requestProblem(message);
    if (problem !== undefined) return () => reply(conn, error("GenericError", problem));
    const request = message as Request;
    record({ client: conn.id, execute: request.execute, arguments: request.arguments, at: Date.now() });
    return () => runCommand(conn, request);
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
    const context: FakeQgaContext = {
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
      if (thrown instanceof QmpCommandError)
        return reply(conn, error(thrown.errorClass, thrown.desc, request.id));
      return reply(
        conn,
        error("GenericError", thrown instanceof Error ? thrown.message : String(thrown), request.id),
      );
    }
  };

  const server: UnixSocketListener<unknown> = Bun.listen({
    unix: path,
    socket: {
      open(socket) {
        connections.set(socket, {
          id: nextConnection++,
          socket,
          writer: new SocketWriter(socket),
          input: new AgentInputDecoder(maxLineBytes),
          chain: Promise.resolve(),
        });
      },
      data(socket, chunk) {
        const conn = connections.get(socket);
        if (conn === undefined) return;
        let inputs: ReturnType<AgentInputDecoder["push"]>;
        try {
          inputs = conn.input.push(chunk);
        } catch {
          socket.terminate();
          return;
        }
        for (const input of inputs) {
          let work: (() => Promise<void>) | undefined;
          if (input.kind === "line") {
            work = acceptLine(conn, input.text);
          } else {
            sentinels++;
            // qemu-ga's lexer rejects 0xFF as a stray byte, dropping what it had half-parsed; the error quotes the
            // token it was in the middle of.
            const stray = `${partialToken(input.discarded)}\uFFFD`;
            work = () => reply(conn, error("GenericError", `JSON parse error, stray '${stray}'`));
          }
          // Handlers catch their own errors; a failed write (client gone) must not stall later input.
          if (work !== undefined) conn.chain = conn.chain.then(work).catch(() => {});
        }
      },
      drain(socket) {
        connections.get(socket)?.writer.onDrain();
      },
      close(socket) {
        connections.get(socket)?.writer.drop();
        connections.delete(socket);
      },
      error() {},
    },
  });
  return fake;
}

/**
 * The open string a lexer would be in the middle of at the end of `text`, quote included. qemu-ga's error quotes
 * only that kind of partial token; a half keyword or number is not quoted (checked against qemu-ga 7.2).
 */
function partialToken(text: string): string {
  let stringStart = -1;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (stringStart === -1) {
      if (char === '"') stringStart = i;
    } else if (escaped) escaped = false;
    else if (char === "\\") escaped = true;
    else if (char === '"') stringStart = -1;
  }
  return stringStart === -1 ? "" : text.slice(stringStart);
}

/** qemu-ga's checks on the request object itself, with its messages (recorded from qemu-ga 7.2). */
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
