import { QMPError, type QMPErrorOptions, TimeoutError } from "@qmpkit/protocol-core";

/**
 * The guest agent answered a command with an error reply (`{"error": {"class": …, "desc": …}}`).
 *
 * @example
 * try { await qga.fileRead("/nope"); } catch (err) { if (err instanceof QGAError) console.error(err.desc); }
 */
export class QGAError extends QMPError {
  override name = "QGAError";
  override code = "QMP_ERR_QGA";
  /** The agent's error class, e.g. `GenericError` or `CommandNotFound`. */
  readonly errorClass: string;
  /** The agent's human-readable description. */
  readonly desc: string;
  /** The command that failed. */
  readonly command: string;
  /** The raw error reply. */
  readonly reply: unknown;
  /** The command's arguments; non-enumerable, so file contents and passwords stay out of logs. */
  declare readonly arguments: Readonly<Record<string, unknown>> | undefined;

  constructor(
    command: string,
    errorClass: string,
    desc: string,
    reply: unknown,
    args?: Readonly<Record<string, unknown>>,
  ) {
    super(`${command}: ${errorClass}: ${desc}`);
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
    this.reply = reply;
    Object.defineProperty(this, "arguments", { value: args, enumerable: false });
  }
}

/**
 * A command got no reply within its `timeoutMs`. The agent may still answer it later, so the channel is out of
 * step: the client resynchronises (`guest-sync-delimited`) before the next command.
 */
export class QGATimeoutError extends TimeoutError {
  override name = "QGATimeoutError";
  /** The command that timed out. */
  readonly command: string;

  /** How long the caller waited, in milliseconds. */
  readonly timeoutMs: number;

  constructor(command: string, timeoutMs: number, message?: string, code = "QMP_ERR_QGA_TIMEOUT") {
    super(message ?? `${command}: no reply from the guest agent within ${timeoutMs} ms`, code);
    this.command = command;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * `exec()` gave up waiting for the guest process: it may still be running in the guest (qemu-ga 7.2 has no way
 * to kill it); `pid` says which one.
 */
export class QGAExecTimeoutError extends QGATimeoutError {
  override name = "QGAExecTimeoutError";
  /** The guest process id returned by `guest-exec`. */
  readonly pid: number;

  constructor(path: string, pid: number, timeoutMs: number) {
    super(
      "guest-exec",
      timeoutMs,
      `guest-exec ${path}: process ${pid} did not exit within ${timeoutMs} ms (it may still be running)`,
      "QMP_ERR_QGA_EXEC_TIMEOUT",
    );
    this.pid = pid;
  }
}

/**
 * Resynchronisation failed: no reply carrying our `guest-sync-delimited` id arrived in time. Either no agent
 * runs behind the channel (a virtio-serial socket accepts connections even then), another client holds the
 * agent, or the agent is hung.
 */
export class QGASyncError extends TimeoutError {
  override name = "QGASyncError";
  /** The sync id that was never echoed; undefined when the sync was still queued behind other commands. */
  readonly id: number | undefined;

  constructor(id: number | undefined, timeoutMs: number) {
    super(
      `The guest agent did not answer guest-sync-delimited${id === undefined ? "" : ` (id ${id})`} within ${timeoutMs} ms; ` +
        "is qemu-ga running in the guest, and is no other client connected to it?",
      "QMP_ERR_QGA_SYNC",
    );
    this.id = id;
  }
}

/** The session ended (disconnect, peer closed, reset) while the command was queued or waiting for its reply. */
export class QGAInterruptedError extends QMPError {
  override name = "QGAInterruptedError";
  override code = "QMP_ERR_QGA_INTERRUPTED";
  /** The command that was interrupted. */
  readonly command: string;

  constructor(command: string, options?: QMPErrorOptions) {
    super(`${command}: the guest agent session ended before the command completed`, options);
    this.command = command;
  }
}

/**
 * A `vsock:` address was given. Bun's sockets (`Bun.connect`) cannot open AF_VSOCK, so qmpkit cannot reach an
 * agent listening on vsock; use a virtio-serial channel, whose host side is a unix socket.
 */
export class QGAVsockUnsupportedError extends QMPError {
  override name = "QGAVsockUnsupportedError";
  override code = "QMP_ERR_QGA_VSOCK";
  /** The address that was refused. */
  readonly address: string;

  constructor(address: string) {
    super(
      `Cannot connect to "${address}": vsock is not supported (Bun.connect has no AF_VSOCK). ` +
        "Expose the agent through a virtio-serial port instead: -chardev socket,id=qga0,path=/run/qga.sock,server=on,wait=off " +
        "-device virtio-serial -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0, then connect to /run/qga.sock.",
    );
    this.address = address;
  }
}
