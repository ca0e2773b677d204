// Tiny scripted QMP servers on Bun.listen, for fault cases a real QEMU will not produce on demand.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, UnixSocketListener } from "bun";
import { JsonSplitter } from "./json-splitter.ts";

export const GREETING = {
  QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: "scripted" }, capabilities: ["oob"] },
};

export type Json = Record<string, unknown>;

/** The server's side of one connection. */
export interface ScriptPeer {
  /** Sends one message (an object is JSON-encoded; a string is sent verbatim, add your own newline). */
  send(message: Json | string): void;
  /** Every message received from the client, parsed, in order. */
  readonly received: Json[];
  close(): void;
  readonly socket: Socket<undefined>;
}

export interface ScriptOptions {
  /** Sent on connect; `null` sends nothing (a server that never greets). @default GREETING */
  greeting?: Json | string | null;
  /**
   * Called for each command the client sends, after negotiation is handled (unless `negotiation` is "script").
   * The default answers `{"return": {}}` with the command's id.
   */
  onCommand?: (message: Json, peer: ScriptPeer) => void;
  /** "auto": answer qmp_capabilities with success; "script": pass it to onCommand. @default "auto" */
  negotiation?: "auto" | "script";
}

export interface ScriptServer extends AsyncDisposable {
  readonly path: string;
  readonly dir: string;
  /** Peers in connection order. */
  readonly peers: ScriptPeer[];
  /** Resolves with the nth peer (0-based) once it connected. */
  peer(index?: number): Promise<ScriptPeer>;
  /** Resolves once `count` commands (after negotiation) were received in total. */
  commands(count: number): Promise<Json[]>;
  stop(): Promise<void>;
}

/** Starts a scripted server on a unix socket in a fresh temp dir. */
export function scriptServer(options: ScriptOptions = {}): ScriptServer {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-script-"));
  const path = join(dir, "qmp.sock");
  const peers: ScriptPeer[] = [];
  const peerWaiters: { index: number; resolve: (peer: ScriptPeer) => void }[] = [];
  const commands: Json[] = [];
  let commandWaiters: { count: number; resolve: (all: Json[]) => void }[] = [];
  const splitters = new Map<Socket<undefined>, JsonSplitter>();
  const byPeer = new Map<Socket<undefined>, ScriptPeer>();
  const greeting = options.greeting === undefined ? GREETING : options.greeting;

  const onLine = (peer: ScriptPeer, line: string): void => {
    const message = JSON.parse(line) as Json;
    (peer.received as Json[]).push(message);
    if (message.execute === "qmp_capabilities" && options.negotiation !== "script") {
      peer.send({ return: {}, id: message.id });
      return;
    }
    commands.push(message);
    commandWaiters = commandWaiters.filter((w) => {
      if (commands.length < w.count) return true;
      w.resolve(commands.slice());
      return false;
    });
    if (options.onCommand) options.onCommand(message, peer);
    else peer.send({ return: {}, id: message.id });
  };

  const server: UnixSocketListener<undefined> = Bun.listen({
    unix: path,
    socket: {
      open(socket) {
        const peer: ScriptPeer = {
          received: [],
          socket,
          send(message) {
            const data = typeof message === "string" ? message : `${JSON.stringify(message)}\r\n`;
            writeAll(socket, data);
          },
          close() {
            flush(socket).then(() => socket.end());
          },
        };
        byPeer.set(socket, peer);
        splitters.set(socket, new JsonSplitter());
        peers.push(peer);
        if (greeting !== null) peer.send(greeting);
        for (const w of peerWaiters.filter((w) => w.index === peers.length - 1)) w.resolve(peer);
      },
      data(socket, chunk) {
        const peer = byPeer.get(socket);
        if (!peer) return;
        for (const line of splitters.get(socket)?.push(chunk.toString()) ?? []) onLine(peer, line);
      },
      drain(socket) {
        drainQueue(socket);
      },
      close() {},
      error() {},
    },
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      for (const peer of peers) peer.socket.terminate();
      server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  return {
    path,
    dir,
    peers,
    peer(index = 0) {
      const existing = peers[index];
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve) => peerWaiters.push({ index, resolve }));
    },
    commands(count) {
      if (commands.length >= count) return Promise.resolve(commands.slice());
      return new Promise((resolve) => commandWaiters.push({ count, resolve }));
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

// Bun's write is unbuffered: keep what the kernel refused and resend it on drain, in order.
const queues = new WeakMap<Socket<undefined>, { chunks: Buffer[]; waiters: (() => void)[] }>();

function writeAll(socket: Socket<undefined>, data: string | Buffer): void {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  let queue = queues.get(socket);
  if (!queue) {
    queue = { chunks: [], waiters: [] };
    queues.set(socket, queue);
  }
  if (queue.chunks.length > 0) {
    queue.chunks.push(bytes);
    return;
  }
  const written = socket.write(bytes);
  if (written >= 0 && written < bytes.length) queue.chunks.push(bytes.subarray(written));
}

function drainQueue(socket: Socket<undefined>): void {
  const queue = queues.get(socket);
  if (!queue) return;
  while (queue.chunks.length > 0) {
    const head = queue.chunks[0] as Buffer;
    const written = socket.write(head);
    if (written < 0) {
      queue.chunks = [];
      break;
    }
    if (written < head.length) {
      queue.chunks[0] = head.subarray(written);
      return;
    }
    queue.chunks.shift();
  }
  for (const resolve of queue.waiters.splice(0)) resolve();
}

function flush(socket: Socket<undefined>): Promise<void> {
  const queue = queues.get(socket);
  if (!queue || queue.chunks.length === 0) return Promise.resolve();
  return new Promise((resolve) => queue.waiters.push(resolve));
}

/** A fresh temp dir with a socket path in it that nothing listens on yet. */
export function freeSocketPath(): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-path-"));
  return { path: join(dir, "qmp.sock"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
