/**
 * The listening side of a fake monitor: a unix socket (in a private temp dir by default) or a TCP port, QEMU's
 * one-client-at-a-time admission, and the set of live sessions. It knows nothing of commands: each session is
 * served by the {@link MonitorService} it was given.
 */
import { listenInProcess } from "@qmpkit/protocol-core";
import type { Socket, SocketListener } from "bun";
import { FakeQemuError } from "../errors.ts";
import { chmodSync, join, lstatSync, mkdtempSync, rmSync, tmpdir, unlinkSync } from "../lazy-node.ts";
import type { Fault, JsonObject, ReceivedMessage } from "../types.ts";
import { type MonitorService, MonitorSession, type SessionOwner } from "./session.ts";

/** Where and how a {@link MonitorServer} listens. */
export interface MonitorServerOptions {
  tcp?: boolean;
  inProcess?: boolean | string;
  path?: string;
  port?: number;
  hostname?: string;
  /** An inherited listening socket to accept on (see `FakeQemuOptions.fd`). */
  fd?: number;
  /** See `FakeQemuOptions.monitorLabel`. */
  monitorLabel?: string;
  multiClient?: boolean;
  maxLineBytes?: number;
}

/** What the server reports upwards. */
export interface MonitorServerHooks {
  record(entry: ReceivedMessage): void;
  reportError(client: number, command: string | undefined, message: string): void;
  /** The faults for the next accepted connection. */
  faultsForNext(): Fault[];
  /** The server stopped accepting (close, kill or quit). */
  stopped(): void;
  /** Numbers clients when several servers share one VM. @default the server's own count from 1 */
  nextClientId?(): number;
}

/** Listens, admits clients as QEMU does, and keeps the live sessions. */
export class MonitorServer implements SessionOwner {
  readonly address: string;
  readonly path: string | undefined;
  readonly port: number | undefined;
  readonly maxLineBytes: number;
  readonly label: string | undefined;
  readonly #server: Pick<SocketListener<MonitorSession | undefined>, "stop">;
  readonly #dir: string | undefined;
  readonly #sessions: MonitorSession[] = [];
  readonly #hooks: MonitorServerHooks;
  readonly #multiClient: boolean;
  readonly #service: MonitorService;
  #nextClient = 1;
  #stopped = false;
  #closing: Promise<void> | undefined;

  constructor(options: MonitorServerOptions, service: MonitorService, hooks: MonitorServerHooks) {
    this.#service = service;
    this.label = options.monitorLabel;
    this.#hooks = hooks;
    this.#multiClient = options.multiClient === true;
    this.maxLineBytes = options.maxLineBytes ?? 64 * 1024 * 1024;
    const handlers = {
      open: (socket: Socket<MonitorSession | undefined>) => this.#onOpen(socket),
      data: (socket: Socket<MonitorSession | undefined>, chunk: Buffer) => socket.data?.onData(chunk),
      drain: (socket: Socket<MonitorSession | undefined>) => socket.data?.onDrain(),
      end: (socket: Socket<MonitorSession | undefined>) => socket.data?.onEnd(),
      close: (socket: Socket<MonitorSession | undefined>) => socket.data?.onClosed(),
      error: (socket: Socket<MonitorSession | undefined>) => socket.data?.onClosed(),
    };
    if (options.fd !== undefined) {
      // Bun 1.4.4 accepts `fd` for an already-listening socket although its types do not declare it.
      const listenOnFd = Bun.listen as unknown as (o: {
        fd: number;
        socket: typeof handlers;
      }) => SocketListener<MonitorSession | undefined>;
      try {
        this.#server = listenOnFd({ fd: options.fd, socket: handlers });
      } catch (error) {
        throw new FakeQemuError(`Cannot listen on fd ${options.fd}`, { cause: error });
      }
      this.port = undefined;
      this.path = undefined;
      this.#dir = undefined;
      this.address = `fd:${options.fd}`;
      return;
    }
    if (options.inProcess !== undefined && options.inProcess !== false) {
      const listener = listenInProcess({
        ...(typeof options.inProcess === "string" ? { name: options.inProcess } : {}),
        socket: handlers,
      });
      this.#server = listener;
      this.port = undefined;
      this.path = undefined;
      this.#dir = undefined;
      this.address = listener.address;
      return;
    }
    if (options.tcp) {
      const hostname = options.hostname ?? "127.0.0.1";
      const server = Bun.listen<MonitorSession | undefined>({
        hostname,
        port: options.port ?? 0,
        // A client may shut down its sending side after its last request and still read the reply.
        allowHalfOpen: true,
        socket: handlers,
      });
      this.#server = server;
      this.port = server.port;
      this.path = undefined;
      this.#dir = undefined;
      this.address = `tcp:${hostname.includes(":") ? `[${hostname}]` : hostname}:${this.port}`;
      return;
    }
    let path = options.path;
    if (path === undefined) {
      // mkdtemp makes the directory 0700: nobody else can reach the socket, whatever its own mode.
      this.#dir = mkdtempSync(join(tmpdir(), "qmpkit-fake-"));
      path = join(this.#dir, "qmp.sock");
    } else {
      this.#dir = undefined;
      removeStaleSocket(path);
    }
    try {
      this.#server = Bun.listen<MonitorSession | undefined>({
        unix: path,
        allowHalfOpen: true,
        socket: handlers,
      });
      chmodSync(path, 0o600);
    } catch (error) {
      if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
      throw new FakeQemuError(`Cannot listen on ${path}`, { cause: error });
    }
    this.path = path;
    this.port = undefined;
    this.address = `unix:${path}`;
  }

  /** The live sessions, in accept order. */
  get sessions(): readonly MonitorSession[] {
    return this.#sessions;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Sends an event to every session in command mode, now (before any reply written after this call). */
  broadcast(event: string, data?: JsonObject): void {
    for (const session of this.#sessions) session.sendEvent(event, data);
  }

  record(entry: ReceivedMessage): void {
    this.#hooks.record(entry);
  }

  reportError(client: number, command: string | undefined, message: string): void {
    this.#hooks.reportError(client, command, message);
  }

  closed(session: MonitorSession): void {
    const index = this.#sessions.indexOf(session);
    if (index >= 0) this.#sessions.splice(index, 1);
    if (this.#multiClient || this.#stopped || this.#serving(undefined)) return;
    for (const next of this.#sessions) {
      if (next.phase === "waiting" && !next.ended) {
        void next.activate();
        return;
      }
    }
  }

  /** Stops accepting; open sessions are left alone (QEMU exiting closes them next). Idempotent. */
  stopListening(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    // stop(false): stop accepting but leave open connections alone; they are closed gracefully (replies already
    // queued, like quit's, still go out) by close().
    this.#server.stop(false);
    if (this.path !== undefined) removeStaleSocket(this.path);
    this.#hooks.stopped();
  }

  /** Stops listening, closes every session gracefully, removes the socket and its temp dir. Idempotent. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.stopListening();
    // A copy: a session that closes at once (nothing unwritten, an in-process socket) leaves the list right away.
    const waiting: Promise<void>[] = [];
    for (const session of this.#sessions.slice()) {
      const closed = session.close(500);
      if (!session.ended) waiting.push(closed);
    }
    // Nothing to wait for, nothing to schedule.
    if (waiting.length === 0) {
      try {
        this.#release();
        this.#closing = Promise.resolve();
      } catch (error) {
        this.#closing = Promise.reject(error);
      }
    } else this.#closing = Promise.all(waiting).then(() => this.#release());
    return this.#closing;
  }

  /** Once the sessions had their grace: cuts what is left, closes the listener, removes the temp dir. */
  #release(): void {
    for (const session of [...this.#sessions]) session.resetNow();
    this.#server.stop(true);
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
  }

  /** Cuts every session at once, as a SIGKILLed QEMU would, then cleans up. */
  async kill(): Promise<void> {
    this.stopListening();
    for (const session of [...this.#sessions]) session.resetNow();
    await this.close();
  }

  #onOpen(socket: Socket<MonitorSession | undefined>): void {
    if (this.#stopped) {
      socket.terminate();
      return;
    }
    const session = new MonitorSession(
      this,
      this.#service,
      socket as Socket<unknown>,
      this.#hooks.nextClientId?.() ?? this.#nextClient++,
      this.#hooks.faultsForNext(),
    );
    socket.data = session;
    this.#sessions.push(session);
    // A fault may end the connection right here (closeAfterBytes(0)); it then leaves the list at once.
    session.opened();
    if (session.ended) return;
    // One client at a time, like QEMU's monitor: later ones are accepted but wait, ungreeted, for their turn.
    if (this.#multiClient || !this.#serving(session)) void session.activate();
  }

  /** Whether a session other than `except` is being served (greeted). A loop: no callback on every accept. */
  #serving(except: MonitorSession | undefined): boolean {
    const sessions = this.#sessions;
    for (let i = 0; i < sessions.length; i++) {
      const s = sessions[i] as MonitorSession;
      if (s.phase !== "waiting" && s !== except) return true;
    }
    return false;
  }
}

/** Removes `path` only if it is a socket: never delete a user's regular file. */
export function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Nothing there.
  }
}
