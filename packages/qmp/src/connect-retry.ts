/**
 * Retrying `connect()` while QEMU starts: its socket file does not exist yet (`ENOENT`), or exists with nobody
 * listening yet (`ECONNREFUSED`). `timeoutMs` bounds the whole call, pauses and retries included.
 *
 * @module
 */

import { ConnectError, type ConnectOptions, type Logger, sleep, TimeoutError } from "@qmpkit/protocol-core";
import type { RetryOptions } from "./options.ts";

/** Calls `connectOnce` until it succeeds, fails for another reason, or the attempts or the time run out. */
export async function connectWithRetry(
  connectOnce: (options: ConnectOptions) => Promise<void>,
  options: ConnectOptions,
  retry: RetryOptions,
  logger: Logger,
): Promise<void> {
  const attempts = Math.max(1, Math.floor(retry.attempts));
  const expiresAt = options.timeoutMs === undefined ? undefined : performance.now() + options.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const remaining = expiresAt === undefined ? undefined : Math.max(0, expiresAt - performance.now());
    try {
      await connectOnce(remaining === undefined ? options : { ...options, timeoutMs: remaining });
      return;
    } catch (error) {
      const retriable =
        error instanceof ConnectError && (error.code === "ENOENT" || error.code === "ECONNREFUSED");
      if (!retriable || attempt >= attempts) throw error;
      if (logger.enabled)
        logger.debug(`Connect attempt ${attempt}/${attempts} failed (${error.code}); retrying`);
      const pause =
        expiresAt === undefined ? retry.delayMs : Math.min(retry.delayMs, expiresAt - performance.now());
      if (pause <= 0 && expiresAt !== undefined) {
        throw new TimeoutError(
          `Connection attempt timed out after ${options.timeoutMs} ms`,
          "QMP_ERR_CONNECT_TIMEOUT",
        );
      }
      await sleep(pause, options.signal);
    }
  }
}
