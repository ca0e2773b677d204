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
  readonly exitCode: ExitCode = ExitCode.usage;
}

/** Wrong flags, arguments or addresses. */
export class UsageError extends CliError {
  override name = "UsageError";
  override readonly code: string = "QMPKIT_ERR_USAGE";
}

/** A subcommand part that waits for the QMP client or the fake server. */
export class NotImplementedError extends CliError {
  override name = "NotImplementedError";
  override readonly code = "QMPKIT_ERR_NOT_IMPLEMENTED";
}

/** The shape of `@qmpkit/qmp`'s ExecuteError that the CLI relies on (a server error reply). */
export interface ExecuteErrorLike extends Error {
  readonly errorClass: string;
  readonly desc: string;
}

/**
 * Recognises a server error reply without importing the client, so a second copy of the
 * package, or the fake's errors, are handled the same way.
 */
export function isExecuteError(error: unknown): error is ExecuteErrorLike {
  return (
    error instanceof Error &&
    typeof (error as Partial<ExecuteErrorLike>).errorClass === "string" &&
    typeof (error as Partial<ExecuteErrorLike>).desc === "string"
  );
}

/** The exit status for anything thrown out of a subcommand. */
export function exitCodeFor(error: unknown): ExitCode {
  if (isExecuteError(error)) return ExitCode.commandFailed;
  if (error instanceof CliError) return error.exitCode;
  return ExitCode.usage;
}
