/**
 * Cancellation: the one place that races work against an AbortSignal and a timer. Every helper here removes its
 * abort listener and clears its timer on every path (settled, aborted, timed out), so a long-lived signal — a
 * session's, or a caller's reused across thousands of calls — never accumulates listeners.
 *
 *   Deadline   = a timeout and/or a parent signal, as one AbortSignal (`signal`), released with `clear()`/`using`
 *   raceAbort  = a promise, rejected early with the signal's reason (or a failure promise's)
 *   sleep      = an abortable pause
 *
 * @module
 */

/** setTimeout fires at once for delays past 2^31-1 ms, so longer (or infinite) bounds get no timer at all. */
const MAX_TIMER_MS = 2_147_483_647;

/** Options of a {@link Deadline}. */
export interface DeadlineOptions {
  /** Abort after this many milliseconds. `undefined` or `Infinity`: no timer. */
  timeoutMs?: number | undefined;
  /** Abort when this signal aborts, with its reason. */
  signal?: AbortSignal | undefined;
  /** The reason the deadline aborts with when the time is up. @default a DOMException named "TimeoutError" */
  onTimeout?: (() => unknown) | undefined;
}

/**
 * A timeout and a parent signal folded into one {@link AbortSignal}. Unlike `AbortSignal.any`/`AbortSignal.timeout`,
 * it lets go of the parent and the timer as soon as the work is done: call {@link clear} (or declare it with
 * `using`) when the guarded work settles.
 *
 * @example
 * using deadline = new Deadline({ timeoutMs: 5000, signal: options.signal });
 * const reply = await raceAbort(work(), deadline.signal);
 */
export class Deadline implements Disposable {
  readonly #controller = new AbortController();
  readonly #parent: AbortSignal | undefined;
  readonly #onTimeout: (() => unknown) | undefined;
  readonly #expiresAt: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut = false;

  constructor(options: DeadlineOptions = {}) {
    const { timeoutMs, signal } = options;
    this.#onTimeout = options.onTimeout;
    this.#expiresAt = timeoutMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
    if (signal?.aborted) {
      this.#controller.abort(signal.reason);
      return;
    }
    if (signal !== undefined) {
      this.#parent = signal;
      signal.addEventListener("abort", this);
    }
    if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) {
      this.#timer = setTimeout(expire, Math.max(0, timeoutMs), this);
    }
  }

  /** Aborts when the time is up (reason: `onTimeout()`) or the parent aborts (reason: the parent's). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True when the deadline aborted because its time was up (not because of the parent signal). */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Milliseconds left before the timer fires (`Infinity` without one, 0 once passed). */
  get remainingMs(): number {
    return Math.max(0, this.#expiresAt - performance.now());
  }

  /** Releases the timer and the parent listener; the signal stays as it is. Idempotent. */
  clear(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#parent?.removeEventListener("abort", this);
  }

  [Symbol.dispose](): void {
    this.clear();
  }

  /** The parent's abort (an EventListener object, so no closure is allocated per deadline). */
  handleEvent(): void {
    const reason = this.#parent?.reason;
    this.clear();
    this.#controller.abort(reason);
  }

  /** The timer's callback. */
  expire(): void {
    this.#timer = undefined;
    this.clear();
    this.#timedOut = true;
    const reason =
      this.#onTimeout === undefined
        ? new DOMException("The deadline passed", "TimeoutError")
        : this.#onTimeout();
    this.#controller.abort(reason);
  }
}

function expire(deadline: Deadline): void {
  deadline.expire();
}

/**
 * Settles as `work` does, unless `signal` aborts first (rejects with its reason) or `failure` rejects first (with
 * its reason). The abort listener is removed whichever way it ends; a `work` that loses the race has its rejection
 * handled so it is not reported as unhandled.
 *
 * @example
 * const socket = await raceAbort(Bun.connect(options), signal);
 */
export function raceAbort<V>(
  work: Promise<V>,
  signal: AbortSignal | undefined,
  failure?: Promise<never>,
): Promise<V> {
  if (signal?.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  if (signal === undefined && failure === undefined) return work;
  return new Promise<V>((resolve, reject) => {
    let done = false;
    const onAbort = (): void => finish(reject, signal?.reason);
    function finish<A>(settle: (arg: A) => void, arg: A): void {
      if (done) return;
      done = true;
      signal?.removeEventListener("abort", onAbort);
      settle(arg);
    }
    signal?.addEventListener("abort", onAbort);
    work.then(
      (value) => finish(resolve, value),
      (error: unknown) => finish(reject, error),
    );
    failure?.catch((error: unknown) => finish(reject, error));
  });
}

/**
 * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon as it aborts; the timer and the
 * listener are released either way.
 *
 * @example
 * await sleep(100, signal);
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * True when `promise` settles within `ms`, false when the time runs out first (the promise is then left to
 * itself; its rejection is handled). Used for grace periods, where running out is an outcome, not an error.
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  // finally rather than `using`: the same release, without the first `using`'s builtin set-up (~0.05 ms), which a
  // one-shot CLI would pay on its way out.
  const deadline = new Deadline({ timeoutMs: ms });
  try {
    await raceAbort(promise, deadline.signal);
    return true;
  } catch {
    return !deadline.timedOut;
  } finally {
    deadline.clear();
  }
}
