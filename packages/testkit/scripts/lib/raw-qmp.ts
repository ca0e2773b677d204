/**
 * A QEMU for recording and a QMP peer that keeps QEMU's reply text byte for byte. Deliberately independent of
 * the qmpkit client: what the profile records must not depend on the code it is used to check. Only the write
 * queue is shared (protocol-core's SocketWriter), which sends the given bytes unchanged. QEMU ends every
 * message it sends with `\r\n` and never puts a raw newline inside one, so line framing is exact on this side.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SocketWriter } from "@qmpkit/protocol-core";

/** One message as QEMU wrote it (`text`, without the line end) and parsed (`msg`, for routing only). */
export interface RawMessage {
  readonly text: string;
  readonly msg: Record<string, unknown>;
}

/** QEMU closed the connection (it exited or crashed) while a command was outstanding. */
export class QemuGoneError extends Error {
  override name = "QemuGoneError";
}

/** Options for {@link RecordingQemu.start}. */
export interface QemuLaunch {
  /** The command that runs QEMU, e.g. `["qemu-system-x86_64"]` or `["chroot", "/srv/trixie", "qemu-system-x86_64"]`. */
  readonly command: readonly string[];
  /** QEMU arguments before `-qmp`. */
  readonly args: readonly string[];
  /** A directory whose path is the same for QEMU and for us (for a chroot: a bind-mounted one). */
  readonly socketDir: string;
}

/** A throw-away QEMU with its QMP socket in a private directory under `socketDir`. */
export class RecordingQemu {
  readonly #dir: string;
  readonly #proc: ReturnType<typeof Bun.spawn>;
  readonly #stderr: Promise<string>;
  readonly socketPath: string;

  private constructor(launch: QemuLaunch) {
    mkdirSync(launch.socketDir, { recursive: true });
    this.#dir = mkdtempSync(join(launch.socketDir, "qmpkit-profile-"));
    this.socketPath = join(this.#dir, "qmp.sock");
    const argv = [...launch.command, ...launch.args, "-qmp", `unix:${this.socketPath},server=on,wait=off`];
    this.#proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    this.#stderr = new Response(this.#proc.stderr as ReadableStream).text();
  }

  /** Starts QEMU and returns a negotiated peer (with the greeting's text). */
  static async start(
    launch: QemuLaunch,
  ): Promise<{ qemu: RecordingQemu; peer: RawQMP; greeting: RawMessage }> {
    const qemu = new RecordingQemu(launch);
    try {
      const deadline = Date.now() + 15_000;
      // Bun.file().exists() is false for sockets; existsSync sees them.
      while (!existsSync(qemu.socketPath)) {
        if (qemu.#proc.exitCode !== null) throw new Error(`QEMU exited early: ${await qemu.#stderr}`);
        if (Date.now() > deadline) throw new Error(`QEMU did not create ${qemu.socketPath}`);
        await Bun.sleep(10);
      }
      // The socket file exists from bind(); QEMU may not be listening yet.
      let peer: RawQMP | undefined;
      while (peer === undefined) {
        try {
          peer = await RawQMP.connect(qemu.socketPath);
        } catch (error) {
          if ((error as { code?: string }).code !== "ECONNREFUSED" || Date.now() > deadline) throw error;
          await Bun.sleep(10);
        }
      }
      const greeting = await peer.next(10_000);
      if (!greeting || !("QMP" in greeting.msg)) throw new Error(`no greeting: ${greeting?.text}`);
      const caps = await peer.execute("qmp_capabilities");
      if (!("return" in caps.msg)) throw new Error(`negotiation failed: ${caps.text}`);
      return { qemu, peer, greeting };
    } catch (error) {
      await qemu.stop();
      throw error;
    }
  }

  /** What QEMU wrote to stderr; complete once it has exited. */
  stderr(): Promise<string> {
    return this.#stderr;
  }

  async stop(): Promise<void> {
    if (this.#proc.exitCode === null) {
      const timer = setTimeout(() => this.#proc.kill("SIGKILL"), 3000);
      this.#proc.kill("SIGTERM");
      await this.#proc.exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A QMP connection that sends one command at a time and hands back QEMU's reply text. */
export class RawQMP {
  #socket: Bun.Socket<undefined> | undefined;
  #partial: Buffer[] = [];
  #inbox: RawMessage[] = [];
  #writer: SocketWriter | undefined;
  #wake: (() => void) | undefined;
  #nextId = 0;
  closed = false;
  /** Events received while waiting for replies, in order. */
  readonly events: RawMessage[] = [];

  static async connect(path: string): Promise<RawQMP> {
    const peer = new RawQMP();
    peer.#socket = await Bun.connect({
      unix: path,
      socket: {
        data: (_s, chunk) => peer.#receive(chunk),
        drain: () => peer.#writer?.onDrain(),
        close: () => peer.#close(),
        error: () => peer.#close(),
      },
    });
    peer.#writer = new SocketWriter(peer.#socket);
    return peer;
  }

  #close(): void {
    this.closed = true;
    this.#writer?.drop();
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #receive(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl >= 0) {
      this.#partial.push(chunk.subarray(start, nl));
      const text = Buffer.concat(this.#partial).toString("utf8").replace(/\r$/, "");
      this.#partial = [];
      if (text.length > 0) this.#inbox.push({ text, msg: JSON.parse(text) as Record<string, unknown> });
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) this.#partial.push(chunk.subarray(start));
    if (this.#inbox.length > 0) this.#notify();
  }

  /** The next message, or undefined after `ms` without one or once the connection is closed. */
  next(ms: number): Promise<RawMessage | undefined> {
    const queued = this.#inbox.shift();
    if (queued || this.closed) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(undefined);
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve(this.#inbox.shift());
      };
    });
  }

  /**
   * Runs one command and returns its reply as QEMU wrote it; events that arrive meanwhile go to `events`.
   * Throws {@link QemuGoneError} if the connection closes first.
   */
  async execute(command: string, args?: unknown, timeoutMs = 60_000): Promise<RawMessage> {
    const id = `r${++this.#nextId}`;
    const request = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
    this.#writer?.write(`${JSON.stringify(request)}\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.next(Math.max(1, deadline - Date.now()));
      if (!message) {
        if (this.closed) throw new QemuGoneError(`QEMU closed the connection during ${command}`);
        throw new Error(`no reply to ${command} within ${timeoutMs} ms`);
      }
      if ("event" in message.msg) {
        this.events.push(message);
        continue;
      }
      if (message.msg.id !== id)
        throw new Error(`reply for ${String(message.msg.id)} while waiting for ${id}`);
      return message;
    }
  }

  close(): void {
    this.#socket?.end();
  }
}

/**
 * The reply with its `id` cut out of QEMU's text, so equal replies to different requests are one string:
 * `{"return": …}` or `{"error": {…}}`. QEMU writes `return` before `id` and `id` before `error`.
 */
export function stripId(reply: RawMessage): string {
  const id = JSON.stringify(reply.msg.id).replaceAll('":"', '": "');
  const suffix = `, "id": ${id}}`;
  const prefix = `{"id": ${id}, `;
  let text: string;
  if (reply.text.startsWith('{"return": ') && reply.text.endsWith(suffix)) {
    text = `${reply.text.slice(0, -suffix.length)}}`;
  } else if (reply.text.startsWith(prefix)) {
    text = `{${reply.text.slice(prefix.length)}`;
  } else {
    throw new Error(`unexpected reply layout: ${reply.text.slice(0, 200)}`);
  }
  // Guard the text surgery: the result must mean the reply minus its id.
  const { id: _id, ...rest } = reply.msg;
  if (!Bun.deepEquals(JSON.parse(text), rest))
    throw new Error(`id strip changed the reply: ${text.slice(0, 200)}`);
  return text;
}
