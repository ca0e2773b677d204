import { Deadline, ProtocolError, sleep } from "@qmpkit/protocol-core";
import { previewJson } from "../messages.ts";
import { QGAExecTimeoutError, QGATimeoutError } from "./errors.ts";
import type { QGACommandOptions } from "./queue.ts";
import type { GuestExecStatus, QGAExecResult } from "./types.ts";
import { fromBase64, isObject, toBase64 } from "./wire.ts";

/** What the helpers need from the client: one command at a time, with per-call options. */
export interface QGACommandRunner {
  executeUntyped(
    command: string,
    args?: Readonly<Record<string, unknown>>,
    options?: QGACommandOptions,
  ): Promise<unknown>;
}

/** Options of `exec()`. */
export interface QGAExecOptions {
  /** Environment of the guest process, as a map or as `NAME=value` strings. @default the agent's environment */
  env?: Readonly<Record<string, string>> | readonly string[];
  /** Written to the process's stdin, which is then closed. @default nothing (stdin is /dev/null) */
  input?: string | Uint8Array;
  /** Collect stdout and stderr (the agent keeps up to 16 MiB of each). @default true */
  captureOutput?: boolean;
  /** `utf8` decodes the output to strings (invalid bytes become U+FFFD); `bytes` keeps it raw. @default "utf8" */
  encoding?: "utf8" | "bytes";
  /**
   * The longest pause between two `guest-exec-status` polls. Polling starts at 5 ms and doubles up to this, so
   * short commands finish quickly without hammering the agent during long ones. @default 200
   */
  pollIntervalMs?: number;
  /**
   * Gives up after this long with {@link QGAExecTimeoutError} (the guest process keeps running).
   * @default no limit
   */
  timeoutMs?: number;
  /** Stops waiting; the guest process keeps running. */
  signal?: AbortSignal;
}

const FIRST_POLL_MS = 5;
const DEFAULT_POLL_INTERVAL_MS = 200;

/** Spawns a guest process with `guest-exec`, polls `guest-exec-status` until it exits, decodes its output. */
export async function runExec(
  runner: QGACommandRunner,
  path: string,
  args: readonly string[],
  options: QGAExecOptions,
): Promise<QGAExecResult<string | Uint8Array>> {
  const captureOutput = options.captureOutput ?? true;
  const maxPoll = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  let pid: number | undefined;
  const limit = options.timeoutMs;
  using deadline = new Deadline({
    timeoutMs: limit,
    signal: options.signal,
    onTimeout: () =>
      pid === undefined
        ? new QGATimeoutError("guest-exec", limit as number)
        : new QGAExecTimeoutError(path, pid, limit as number),
  });
  const signal = deadline.signal;
  const spawnArgs: Record<string, unknown> = { path, arg: [...args], "capture-output": captureOutput };
  if (options.env !== undefined) spawnArgs.env = envList(options.env);
  if (options.input !== undefined) spawnArgs["input-data"] = toBase64(bytesOf(options.input));
  const spawned = await runner.executeUntyped("guest-exec", spawnArgs, { signal });
  if (!isObject(spawned) || typeof spawned.pid !== "number") {
    throw new ProtocolError(`guest-exec returned no pid: ${previewJson(spawned)}`);
  }
  pid = spawned.pid;
  let pause = FIRST_POLL_MS;
  for (;;) {
    await sleep(Math.min(pause, maxPoll), signal);
    pause *= 2;
    const status = (await runner.executeUntyped("guest-exec-status", { pid }, { signal })) as GuestExecStatus;
    if (status.exited) return toResult(pid, status, options.encoding ?? "utf8");
  }
}

function toResult(
  pid: number,
  status: GuestExecStatus,
  encoding: "utf8" | "bytes",
): QGAExecResult<string | Uint8Array> {
  const stdout = fromBase64(status["out-data"]);
  const stderr = fromBase64(status["err-data"]);
  const decode = (bytes: Uint8Array): string | Uint8Array =>
    encoding === "bytes" ? bytes : new TextDecoder().decode(bytes);
  const result: QGAExecResult<string | Uint8Array> = {
    pid,
    exitcode: status.exitcode,
    stdout: decode(stdout),
    stderr: decode(stderr),
    stdoutTruncated: status["out-truncated"] ?? false,
    stderrTruncated: status["err-truncated"] ?? false,
  };
  if (status.signal !== undefined) result.signal = status.signal;
  return result;
}

function envList(env: Readonly<Record<string, string>> | readonly string[]): string[] {
  if (Array.isArray(env)) return [...(env as readonly string[])];
  return Object.entries(env as Readonly<Record<string, string>>).map(([name, value]) => `${name}=${value}`);
}

/** UTF-8 bytes of a string, or the bytes as given. */
export function bytesOf(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}
