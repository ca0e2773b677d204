/**
 * Time for the VM model. Jobs and migrations schedule their progress on a {@link Clock} instead of `setTimeout`,
 * so a test can run the fake on real time (the default) or on a manual clock it advances itself: a progress bar
 * or a timeout then takes no real time and gives the same result every run.
 */

/** A timer scheduled on a {@link Clock}. */
export interface ClockTimer {
  /** Cancels the timer; harmless after it fired. */
  cancel(): void;
}

/** The VM's time source. */
export interface Clock {
  /** `"real"` follows the wall clock; `"manual"` moves only when a test calls `advance`. */
  readonly kind: "real" | "manual";
  /** Milliseconds since the clock started. */
  now(): number;
  /** Calls `callback` once, `ms` from now (as this clock counts). */
  setTimeout(callback: () => void, ms: number): ClockTimer;
  /** Resolves `ms` from now, or rejects with `signal.reason` when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The clock a test sees as `fake.clock`. */
export interface FakeClock extends Clock {
  /**
   * Moves a manual clock forward by `ms`, firing every timer that falls due on the way, in time order, each with
   * `now()` at its due time; resolves once they ran and the work they started in the same turn settled.
   * Throws on the real clock (create the fake with `clock: "manual"`).
   */
  advance(ms: number): Promise<void>;
  /**
   * @internal The fake closed: every pending timer is dropped and later ones never fire, so a job or migration
   * still running does not keep the process alive.
   */
  stop(): void;
}

/** Follows the wall clock. */
export class RealClock implements FakeClock {
  readonly kind = "real";
  readonly #start = performance.now();
  /** Made with the first timer: most fakes never schedule one, and stop() then has nothing to walk. */
  #pending: Set<ReturnType<typeof setTimeout>> | undefined;
  #stopped = false;

  now(): number {
    return performance.now() - this.#start;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    if (this.#stopped) return { cancel: () => {} };
    this.#pending ??= new Set();
    const pending = this.#pending;
    const timer = setTimeout(() => {
      pending.delete(timer);
      callback();
    }, ms);
    pending.add(timer);
    return {
      cancel: () => {
        clearTimeout(timer);
        pending.delete(timer);
      },
    };
  }

  stop(): void {
    this.#stopped = true;
    if (this.#pending === undefined) return;
    for (const timer of this.#pending) clearTimeout(timer);
    this.#pending.clear();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  advance(): Promise<void> {
    return Promise.reject(
      new Error("fake.clock follows real time; create the fake with { clock: 'manual' } to advance it"),
    );
  }
}

interface ManualTimer {
  due: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/** Moves only when told to: `await clock.advance(ms)`. */
export class ManualClock implements FakeClock {
  readonly kind = "manual";
  #now = 0;
  #seq = 0;
  #timers: ManualTimer[] = [];
  #stopped = false;

  now(): number {
    return this.#now;
  }

  stop(): void {
    for (const timer of this.#timers) timer.cancelled = true;
    this.#stopped = true;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    if (this.#stopped) return { cancel: () => {} };
    const timer: ManualTimer = {
      due: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      callback,
      cancelled: false,
    };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms}): expected a duration >= 0`);
    const target = this.#now + ms;
    for (;;) {
      // Work started by a timer (promise chains, socket writes) settles before the next one fires.
      await settle();
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      let next: ManualTimer | undefined;
      for (const timer of this.#timers) {
        if (timer.due > target) continue;
        if (next === undefined || timer.due < next.due || (timer.due === next.due && timer.seq < next.seq))
          next = timer;
      }
      if (next === undefined) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = next.due;
      next.callback();
    }
    this.#now = target;
    await settle();
  }
}

/** One macrotask turn: every microtask queued before it has run, and pending socket writes went out. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleepOn(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      timer.cancel();
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
