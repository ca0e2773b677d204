/**
 * The CLI's own errors. Each carries the process exit status it maps to, so the one place that
 * prints errors (`main.ts`) needs no knowledge of where they came from.
 *
 * Exit statuses: 0 success, 1 a QMP command failed (the server answered with an error),
 * 2 usage or connection problems (nothing useful happened).
 */

export const ExitCode = { ok: 0, commandFailed: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base class: a message meant for the user, printed as one line. */
export class CliError extends Error {
  override name = "CliError";
  readonly code: string = "QMPKIT_ERR";
  /** The process exit status; a subclass may carry another program's (`qmpkit qemu` exits with QEMU's). */
  readonly exitCode: number = ExitCode.usage;
}

/** Wrong flags, arguments or addresses. */
export class CliUsageError extends CliError {
  override name = "CliUsageError";
  override readonly code: string = "QMPKIT_ERR_USAGE";
}

/** Connecting or negotiating failed; `cause` is the client's error (`ConnectError`, a timeout, …). */
export class ConnectionFailedError extends CliError {
  override name = "ConnectionFailedError";
  override readonly code = "QMPKIT_ERR_CONNECT";
}

/** The connection ended before a command could be sent or answered; `cause` says why, when known. */
export class ConnectionLostError extends CliError {
  override name = "ConnectionLostError";
  override readonly code = "QMPKIT_ERR_CLOSED";
}

/**
 * The client refused to send a message as typed, e.g. a raw JSON line with a numeric `id` (replies are matched
 * by string ids) or without `execute`. Nothing was sent; the shell reports it and goes on.
 */
export class MessageRefusedError extends CliError {
  override name = "MessageRefusedError";
  override readonly code = "QMPKIT_ERR_REFUSED";
}

/** What the CLI reads from a server's error reply: `@qmpkit/qmp`'s `ExecuteError`, or its guest-agent twin. */
export interface ExecuteErrorLike extends Error {
  readonly errorClass: string;
  readonly desc: string;
}

/**
 * The codes of errors that mean "the server answered with an error": `@qmpkit/qmp`'s `ExecuteError` (QMP) and
 * `QGAError` (guest agent). Matched by their stable `code` rather than `instanceof`: that holds for a second
 * copy of the package too, and keeps the client out of the start-up path of commands that never connect.
 */
const SERVER_ERROR_CODES: ReadonlySet<string> = new Set(["QMP_ERR_EXECUTE", "QMP_ERR_QGA"]);

/** True for a server's error reply (exit status 1, printed as `ErrorClass: desc`). */
export function isExecuteError(error: unknown): error is ExecuteErrorLike {
  return (
    error instanceof Error &&
    SERVER_ERROR_CODES.has(String((error as { code?: unknown }).code)) &&
    typeof (error as Partial<ExecuteErrorLike>).errorClass === "string" &&
    typeof (error as Partial<ExecuteErrorLike>).desc === "string"
  );
}

/** The exit status for anything thrown out of a subcommand. */
export function exitCodeFor(error: unknown): number {
  if (isExecuteError(error)) return ExitCode.commandFailed;
  if (error instanceof CliError) return error.exitCode;
  return ExitCode.usage;
}
