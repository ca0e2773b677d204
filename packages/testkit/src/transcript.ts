/**
 * Transcripts: `recordTranscript` sits between a client and a real QMP socket, forwards every byte unchanged and
 * logs each line of both directions with a timestamp as JSON Lines; `replayTranscript` (in `replay/`) turns such a
 * file into a fake that plays the server's side back, checking that the client sends what was recorded.
 *
 * File format (one JSON object per line):
 *   {"type":"transcript","version":1,"target":"unix:/…","started":"2026-…"}
 *   {"t":12.5,"conn":1,"from":"server","line":"{\"QMP\": …}"}     t: ms since start; line: exact text, no EOL
 *   {"t":13.1,"conn":1,"from":"client","line":"{\"execute\":…}"}
 *   {"t":90.0,"conn":1,"from":"server","close":true}               who closed first
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LineDecoder, resolveAddress, type SocketAddress, SocketWriter } from "@qmpkit/protocol-core";
import type { Socket, SocketListener } from "bun";
import { TranscriptError } from "./errors.ts";
import { QMPInputParser } from "./monitor/json-stream.ts";

/** One line of a transcript file after the header. */
export type TranscriptEntry =
  | { t: number; conn: number; from: "client" | "server"; line: string }
  | { t: number; conn: number; from: "client" | "server"; close: true };

/** Options of {@link recordTranscript}. */
export interface RecordTranscriptOptions {
  /** The real QMP socket to proxy to (`unix:/…`, `tcp:HOST:PORT`, a path). */
  target: SocketAddress;
  /** Where clients connect. @default a unix socket in a fresh 0700 temp dir */
  listen?: SocketAddress;
  /** The JSON Lines file to write (created or truncated). */
  file: string;
}

/** A running recorder. */
export interface TranscriptRecorder extends AsyncDisposable {
  /** Where clients connect (`unix:/…` or `tcp:127.0.0.1:PORT`). */
  readonly address: string;
  /** Entries written so far. */
  readonly entries: number;
  /** Stops listening, closes both sides of every proxied connection, and finishes the file. */
  close(): Promise<void>;
}

interface ProxySocket {
  peer?: Socket<ProxySocket>;
  writer?: SocketWriter;
  /** Pushes bytes, logging each complete message: the client's by QEMU's rule (braces balance), QEMU's by line. */
  decoder: { decode(chunk: Uint8Array): void };
  from: "client" | "server";
  conn: number;
  closed: boolean;
  pending: Uint8Array[];
}

const textDecoder = new TextDecoder();

/**
 * Proxies a real QMP socket and records both directions.
 *
 * @example
 * await using recorder = await recordTranscript({ target: qemu.address, file: "session.jsonl" });
 * const client = await connect(recorder.address); // talk to QEMU through the recorder
 */
export async function recordTranscript(options: RecordTranscriptOptions): Promise<TranscriptRecorder> {
  const target = resolveAddress(options.target);
  const listenAt = options.listen === undefined ? undefined : resolveAddress(options.listen);
  // The recorder is a proxy between two kernel sockets; an in-process fake has a socket mode for this.
  if (target.kind === "inproc" || listenAt?.kind === "inproc") {
    throw new TypeError("recordTranscript needs unix or tcp addresses, not inproc:");
  }
  const sink = Bun.file(options.file).writer();
  const started = performance.now();
  let entries = 0;
  const log = (entry: { conn: number; from: "client" | "server"; line?: string; close?: true }): void => {
    sink.write(
      `${JSON.stringify({ t: Math.round((performance.now() - started) * 1000) / 1000, ...entry })}\n`,
    );
    entries++;
  };
  sink.write(
    `${JSON.stringify({ type: "transcript", version: 1, target: String(options.target), started: new Date().toISOString() })}\n`,
  );

  const record = (side: ProxySocket, chunk: Uint8Array): void => side.decoder.decode(chunk);
  // Clients need not end a message with a newline (QEMU's streamer ends it at its closing brace); QEMU's own
  // output is one message per line.
  const clientDecoder = (conn: number): ProxySocket["decoder"] => {
    const parser = new QMPInputParser((input) => log({ conn, from: "client", line: input.raw.trim() }));
    return { decode: (chunk) => parser.feed(chunk) };
  };
  const serverDecoder = (conn: number): ProxySocket["decoder"] => {
    const lines = new LineDecoder();
    return {
      decode: (chunk) =>
        lines.decode(chunk, (line) => log({ conn, from: "server", line: textDecoder.decode(line) })),
    };
  };
  const sockets = new Set<Socket<ProxySocket>>();
  let nextConn = 1;

  const forward = (from: Socket<ProxySocket>, chunk: Uint8Array): void => {
    const side = from.data;
    record(side, chunk);
    const peer = side.peer;
    if (peer?.data.writer) peer.data.writer.write(Uint8Array.from(chunk));
    else side.pending.push(Uint8Array.from(chunk));
  };
  const closeSide = (socket: Socket<ProxySocket>): void => {
    const side = socket.data;
    if (side.closed) return;
    side.closed = true;
    sockets.delete(socket);
    log({ conn: side.conn, from: side.from, close: true });
    const peer = side.peer;
    if (peer && !peer.data.closed) {
      peer.data.closed = true;
      sockets.delete(peer);
      // Let what is queued for the peer reach it before its end.
      void (peer.data.writer?.flushed() ?? Promise.resolve()).then(() => peer.end());
    }
  };
  const handlers = {
    data: (s: Socket<ProxySocket>, chunk: Buffer) => forward(s, chunk),
    drain: (s: Socket<ProxySocket>) => s.data.writer?.onDrain(),
    close: (s: Socket<ProxySocket>) => closeSide(s),
    error: (s: Socket<ProxySocket>) => closeSide(s),
  };

  let dir: string | undefined;
  let address: string;
  const clientHandlers = {
    ...handlers,
    open: (client: Socket<ProxySocket>) => {
      const conn = nextConn++;
      client.data = { decoder: clientDecoder(conn), from: "client", conn, closed: false, pending: [] };
      client.data.writer = new SocketWriter(client as Socket<unknown>);
      sockets.add(client);
      const serverSide: ProxySocket = {
        decoder: serverDecoder(conn),
        from: "server",
        conn,
        closed: false,
        pending: [],
      };
      const connectOptions = { data: serverSide, socket: handlers };
      const connecting =
        target.kind === "unix"
          ? Bun.connect<ProxySocket>({ unix: target.path, ...connectOptions })
          : Bun.connect<ProxySocket>({ hostname: target.host, port: target.port, ...connectOptions });
      connecting.then(
        (server) => {
          sockets.add(server);
          server.data.writer = new SocketWriter(server as Socket<unknown>);
          server.data.peer = client;
          client.data.peer = server;
          for (const chunk of client.data.pending.splice(0)) server.data.writer.write(chunk);
          if (client.data.closed) server.end();
        },
        () => {
          log({ conn, from: "server", close: true });
          client.data.closed = true;
          client.end();
        },
      );
    },
  };
  let server: SocketListener<ProxySocket>;
  if (listenAt?.kind === "tcp") {
    const tcp = Bun.listen<ProxySocket>({
      hostname: listenAt.host,
      port: listenAt.port,
      socket: clientHandlers,
    });
    server = tcp;
    address = `tcp:${listenAt.host}:${tcp.port}`;
  } else {
    let path = listenAt?.path;
    if (path === undefined) {
      dir = mkdtempSync(join(tmpdir(), "qmpkit-record-"));
      path = join(dir, "qmp.sock");
    }
    server = Bun.listen<ProxySocket>({ unix: path, socket: clientHandlers });
    address = `unix:${path}`;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      server.stop(true);
      for (const socket of [...sockets]) {
        await socket.data.writer?.flushed();
        socket.end();
      }
      await sink.end();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    })();
    return closing;
  };
  return {
    address,
    get entries() {
      return entries;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Reads a transcript file; throws {@link TranscriptError} on anything that is not one. */
export async function readTranscript(file: string): Promise<TranscriptEntry[]> {
  let text: string;
  try {
    text = await Bun.file(file).text();
  } catch (error) {
    throw new TranscriptError(`Cannot read transcript ${file}`, { cause: error });
  }
  const lines = text.split("\n").filter((l) => l.trim().length > 0);
  const header = parseLine(lines[0], file, 1) as { type?: unknown; version?: unknown };
  if (header.type !== "transcript" || header.version !== 1) {
    throw new TranscriptError(`${file} is not a qmpkit transcript (version 1 header missing)`);
  }
  return lines.slice(1).map((line, i) => {
    const entry = parseLine(line, file, i + 2) as Partial<TranscriptEntry>;
    const ok =
      typeof entry.conn === "number" &&
      (entry.from === "client" || entry.from === "server") &&
      (typeof (entry as { line?: unknown }).line === "string" ||
        (entry as { close?: unknown }).close === true);
    if (!ok) throw new TranscriptError(`${file}:${i + 2}: not a transcript entry`);
    return entry as TranscriptEntry;
  });
}

function parseLine(line: string | undefined, file: string, number: number): unknown {
  if (line === undefined) throw new TranscriptError(`${file} is empty`);
  try {
    return JSON.parse(line);
  } catch (error) {
    throw new TranscriptError(`${file}:${number}: not JSON`, { cause: error });
  }
}
