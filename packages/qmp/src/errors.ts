import { ProtocolError, QMPError, type QMPErrorOptions } from "@qmpkit/protocol-core";
import type { ValidationProblem } from "./qapi/validate.ts";

/** The message an {@link ExecuteError} carries in `command`: what was sent, with `arguments` hidden from logs. */
export interface SentCommand {
  readonly execute?: string;
  readonly "exec-oob"?: string;
  readonly id?: unknown;
  /** On {@link ExecuteError.command}, a prototype getter: passwords in arguments stay out of logs and JSON. */
  readonly arguments?: Record<string, unknown>;
}

/** The `error` member of a QMP error reply. */
export interface ErrorBody {
  readonly class: string;
  readonly desc: string;
}

/**
 * The form of a sent command that errors expose: its members as own properties, except `arguments`, which is a
 * getter on the prototype. So `JSON.stringify`, spreading, `Object.keys` and `console.log` (which shows
 * `[Getter]`) leave arguments such as passwords out, while `error.command.arguments` still reads them.
 */
class SentCommandView {
  readonly #arguments: Record<string, unknown> | undefined;

  constructor(sent: SentCommand) {
    this.#arguments = sent.arguments;
    for (const key of Object.keys(sent)) {
      if (key === "arguments") continue;
      // Object.defineProperty, not assignment: a wire key named __proto__ must stay an ordinary own property.
      Object.defineProperty(this, key, {
        value: (sent as Record<string, unknown>)[key],
        enumerable: true,
        writable: false,
        configurable: true,
      });
    }
  }

  get arguments(): Record<string, unknown> | undefined {
    return this.#arguments;
  }
}

/** Copies `sent` with `arguments` kept off every enumeration (see {@link SentCommandView}). */
export function hideArguments(sent: SentCommand): SentCommand {
  return new SentCommandView(sent) as SentCommand;
}

/** The command name of a sent message: its `execute` or `exec-oob` member. */
export function sentCommandName(sent: SentCommand): string {
  return sent.execute ?? sent["exec-oob"] ?? "(unnamed)";
}

/**
 * QEMU answered a command with an error. `message` is QEMU's own `desc`; branch on {@link errorClass}
 * (`CommandNotFound`, `GenericError`, `DeviceNotFound`, …), never on the text.
 *
 * @example
 * try {
 *   await client.execute("device_del", { id: "nic0" });
 * } catch (err) {
 *   if (err instanceof ExecuteError && err.errorClass === "DeviceNotFound") console.log("already gone");
 *   else throw err;
 * }
 */
export class ExecuteError extends QMPError {
  override name = "ExecuteError";
  override code = "QMP_ERR_EXECUTE";
  /** QEMU's error class, e.g. `CommandNotFound` or `GenericError`. */
  readonly errorClass: string;
  /** QEMU's human-readable description (also the `message`). */
  readonly desc: string;
  /** The message that was sent; its `arguments` member is non-enumerable (a getter), kept out of logs and JSON. */
  readonly command: SentCommand;
  /** The complete error reply, as received. */
  readonly reply: Readonly<Record<string, unknown>>;
  /** The id of the command (and of its reply), if it had one. */
  readonly id: unknown;

  constructor(reply: Readonly<Record<string, unknown>>, error: ErrorBody, command: SentCommand) {
    super(error.desc);
    this.errorClass = error.class;
    this.desc = error.desc;
    this.command = hideArguments(command);
    this.reply = reply;
    this.id = reply.id;
  }
}

/**
 * A command was still waiting for its reply when the session ended (QEMU exited or crashed, the connection
 * broke, or `disconnect()` was called). `cause` is what ended the session, when it ended abnormally.
 */
export class ExecInterruptedError extends QMPError {
  override name = "ExecInterruptedError";
  override code = "QMP_ERR_INTERRUPTED";
  /** The name of the interrupted command. */
  readonly command: string;

  constructor(command: string, options?: QMPErrorOptions) {
    const why = options?.cause === undefined ? "" : `: ${describeCause(options.cause)}`;
    super(`Command "${command}" was interrupted: the session ended before its reply arrived${why}`, options);
    this.command = command;
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** The server's first message was not a valid QMP greeting. Reported as the `cause` of a `ConnectError`. */
export class GreetingError extends ProtocolError {
  override name = "GreetingError";
  override code = "QMP_ERR_GREETING";
}

/** `qmp_capabilities` failed or was answered oddly. Reported as the `cause` of a `ConnectError`. */
export class NegotiationError extends ProtocolError {
  override name = "NegotiationError";
  override code = "QMP_ERR_NEGOTIATION";
  /** QEMU's error class when it refused the negotiation, e.g. `GenericError`. */
  readonly errorClass: string | undefined;

  constructor(message: string, options?: QMPErrorOptions & { errorClass?: string }) {
    super(message, options);
    this.errorClass = options?.errorClass;
  }
}

/** A reply matched a command by id but had neither a `return` nor an `error` member (or a malformed one). */
export class BadReplyError extends ProtocolError {
  override name = "BadReplyError";
  override code = "QMP_ERR_BAD_REPLY";
  /** The offending reply. */
  readonly reply: Readonly<Record<string, unknown>>;
  /** The command it answered; `arguments` is non-enumerable. */
  readonly command: SentCommand;

  constructor(message: string, reply: Readonly<Record<string, unknown>>, command: SentCommand) {
    super(message);
    this.reply = reply;
    this.command = hideArguments(command);
  }
}

/**
 * QEMU sent an error without an id while no id-less command was pending: it could not parse what it was sent,
 * so it cannot say which command failed. The session ends with this error (what `disconnect()` rethrows).
 */
export class ServerParseError extends ProtocolError {
  override name = "ServerParseError";
  override code = "QMP_ERR_SERVER_PARSE";
  /** The id-less error reply. */
  readonly reply: Readonly<Record<string, unknown>>;

  constructor(message: string, reply: Readonly<Record<string, unknown>>) {
    super(message);
    this.reply = reply;
  }
}

/**
 * Runtime validation (`validate: true` or `validateWith()`) found the arguments wrong for the live schema; the
 * command was not sent. The message names every bad member and lists the valid ones.
 */
export class QMPValidationError extends QMPError {
  override name = "QMPValidationError";
  override code = "QMP_ERR_VALIDATION";
  /** The command whose arguments were rejected. */
  readonly command: string;
  /** Every problem found, with its path. */
  readonly problems: readonly ValidationProblem[];

  constructor(message: string, command: string, problems: readonly ValidationProblem[]) {
    super(message);
    this.command = command;
    this.problems = problems;
  }
}

/**
 * A listener configured with `overflow: "error"` had to drop an event because its buffer was full. Thrown once by
 * the next `get()` (or iteration step); the listener goes on delivering what it still holds afterwards.
 */
export class EventOverflowError extends QMPError {
  override name = "EventOverflowError";
  override code = "QMP_ERR_EVENT_OVERFLOW";
  /** The listener's total drop count when this was thrown. */
  readonly dropped: number;

  constructor(highWaterMark: number, dropped: number) {
    super(`Event listener overflowed its buffer of ${highWaterMark}; ${dropped} event(s) dropped so far`);
    this.dropped = dropped;
  }
}

/** `get()` or iteration on a listener that was closed (disposed, or removed from its client). */
export class ListenerClosedError extends QMPError {
  override name = "ListenerClosedError";
  override code = "QMP_ERR_LISTENER_CLOSED";

  constructor(message = "The event listener was closed") {
    super(message);
  }
}

/** A per-call argument was invalid: a duplicate or non-string id, `oob` without negotiated OOB, a bad message. */
export class UsageError extends QMPError {
  override name = "UsageError";

  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}
