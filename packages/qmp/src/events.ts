/**
 * Event listeners: bounded, per-subscriber buffers of QMP events.
 *
 * The client hands every event to every registered listener synchronously, in wire order, from the same handler
 * that resolves replies, so an event received before a reply is buffered (or given to a waiting `get()`) before
 * that reply's `execute()` resolves. Delivery never waits for a consumer: each listener holds at most
 * `highWaterMark` events and applies its overflow policy when full, counting every drop in `dropped`.
 *
 * @module
 */

import { Deadline, TimeoutError } from "@qmpkit/protocol-core";
import { EventOverflowError, ListenerClosedError, UsageError } from "./errors.ts";
import type { EventLike, QMPEvent } from "./messages.ts";

/**
 * What a full listener does with a new event:
 * - `drop-oldest`: discard the oldest buffered event to make room (the newest state wins; the default).
 * - `drop-newest`: discard the incoming event (the first events win).
 * - `error`: discard the incoming event, and make the next `get()` (or iteration step) throw
 *   {@link EventOverflowError} once, so a consumer that must not miss events finds out.
 *
 * Every discarded event increments `dropped`.
 */
export type OverflowPolicy = "drop-oldest" | "drop-newest" | "error";

/** Options of an {@link EventListener}. */
export interface ListenOptions<Ev extends EventLike = QMPEvent> {
  /** Only events with one of these names. @default every event */
  names?: readonly string[] | undefined;
  /** Only events for which this returns true (after the name check). An exception counts as false and is rethrown on a microtask. */
  filter?: ((event: Ev) => boolean) | undefined;
  /** The most events held for a consumer that is not reading. A positive integer. @default 1024 */
  highWaterMark?: number | undefined;
  /** What happens when the buffer is full. @default "drop-oldest" */
  overflow?: OverflowPolicy | undefined;
}

/** Options of {@link EventListener.get}. */
export interface GetOptions {
  /** Gives up waiting; the promise rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** Gives up after this long with a {@link TimeoutError}. @default no limit */
  timeoutMs?: number | undefined;
}

/** Whoever delivers to a listener: the listener asks it to stop when closed. */
export interface ListenerOwner {
  removeListener(listener: EventListener<never>): void;
}

/** Internal hooks, keyed by symbols so they stay off the public surface. */
export const kDeliver: unique symbol = Symbol("qmpkit.deliver");
export const kAttach: unique symbol = Symbol("qmpkit.attach");
export const kDetach: unique symbol = Symbol("qmpkit.detach");
export const kEnd: unique symbol = Symbol("qmpkit.end");
const kTake: unique symbol = Symbol("qmpkit.take");

/** @default 1024 */
export const DEFAULT_HIGH_WATER_MARK = 1024;

interface Waiter<Ev> {
  resolve(event: Ev): void;
  reject(reason: unknown): void;
}

/**
 * A buffered, filtered stream of events from a client: `get()` the next one, iterate with `for await`, or
 * `clear()` what accumulated. It outlives sessions: it keeps receiving across `disconnect()`/`connect()` until
 * it is closed (`close()`, `using`/`await using`, or `client.removeListener()`); iteration ends only then.
 *
 * @example
 * using shutdowns = client.listen({ names: ["SHUTDOWN"] });
 * await client.execute("quit");
 * const ev = await shutdowns.get();
 * console.log(ev.data.reason);
 */
export class EventListener<Ev extends EventLike = QMPEvent> implements AsyncIterable<Ev>, Disposable {
  /** The names this listener accepts, or undefined for all. */
  readonly names: ReadonlySet<string> | undefined;
  /** The buffer's capacity. */
  readonly highWaterMark: number;
  /** The policy when the buffer is full. */
  readonly overflow: OverflowPolicy;
  readonly #filter: ((event: Ev) => boolean) | undefined;

  // A ring buffer: `#count` events starting at `#head`, capacity `highWaterMark`, allocated as it fills.
  #ring: (Ev | undefined)[] = [];
  #head = 0;
  #count = 0;
  #waiters: Waiter<Ev>[] = [];
  #dropped = 0;
  #overflowPending = false;
  #closed = false;
  #owner: ListenerOwner | undefined;

  constructor(options: ListenOptions<Ev> = {}) {
    const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    if (!Number.isSafeInteger(highWaterMark) || highWaterMark < 1) {
      throw new UsageError(
        `highWaterMark must be a positive integer (got ${highWaterMark}): listener buffers are always bounded`,
        "QMP_ERR_INVALID_OPTION",
      );
    }
    const overflow = options.overflow ?? "drop-oldest";
    if (overflow !== "drop-oldest" && overflow !== "drop-newest" && overflow !== "error") {
      throw new UsageError(
        `overflow must be "drop-oldest", "drop-newest" or "error" (got ${String(overflow)})`,
        "QMP_ERR_INVALID_OPTION",
      );
    }
    this.names = options.names === undefined ? undefined : new Set(options.names);
    this.highWaterMark = highWaterMark;
    this.overflow = overflow;
    this.#filter = options.filter;
  }

  /** Events discarded so far because the buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Events buffered now. */
  get size(): number {
    return this.#count;
  }

  /** True once closed; a closed listener receives nothing. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True when no event is buffered. */
  empty(): boolean {
    return this.#count === 0;
  }

  /** Discards and returns every buffered event, oldest first. */
  clear(): Ev[] {
    const events: Ev[] = [];
    while (this.#count > 0) events.push(this.#shift());
    this.#ring = [];
    this.#head = 0;
    return events;
  }

  /**
   * The next event: a buffered one at once, else the next to arrive. Rejects with {@link ListenerClosedError}
   * once the listener is closed and empty, with {@link EventOverflowError} once after an overflow under
   * `overflow: "error"`, and on `signal`/`timeoutMs`.
   */
  get(options: GetOptions = {}): Promise<Ev> {
    if (this.#overflowPending) {
      this.#overflowPending = false;
      return Promise.reject(new EventOverflowError(this.highWaterMark, this.#dropped));
    }
    if (this.#count > 0) return Promise.resolve(this.#shift());
    if (this.#closed) return Promise.reject(new ListenerClosedError());
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<Ev>();
    if (signal === undefined && timeoutMs === undefined) {
      this.#waiters.push({ resolve, reject });
      return promise;
    }
    const deadline = new Deadline({
      timeoutMs,
      signal,
      onTimeout: () => new TimeoutError(`No matching event arrived within ${timeoutMs} ms`),
    });
    const waiter: Waiter<Ev> = {
      resolve: (event) => {
        deadline.clear();
        resolve(event);
      },
      reject: (reason) => {
        deadline.clear();
        reject(reason);
      },
    };
    deadline.signal.addEventListener(
      "abort",
      () => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        waiter.reject(deadline.signal.reason);
      },
      { once: true },
    );
    this.#waiters.push(waiter);
    return promise;
  }

  /**
   * Stops receiving: unregisters from the client, rejects waiting `get()` calls with {@link ListenerClosedError}
   * and ends iteration once the buffered events are consumed. Idempotent.
   */
  close(): void {
    this[kEnd](new ListenerClosedError());
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Iterates events as they come. Leaving the loop (`break`) does not close the listener; closing it ends the
   * loop after the buffered events. Under `overflow: "error"`, an overflow throws out of the loop.
   */
  [Symbol.asyncIterator](): AsyncGenerator<Ev, void, undefined> {
    return new EventIterator(this);
  }

  /** A buffered event when one can be handed out now (none buffered, or an overflow to report: undefined). */
  [kTake](): Ev | undefined {
    return this.#count > 0 && !this.#overflowPending ? this.#shift() : undefined;
  }

  /** Whether this listener wants `event` (name set, then filter). */
  accepts(event: EventLike): boolean {
    if (this.names !== undefined && !this.names.has(event.event)) return false;
    if (this.#filter === undefined) return true;
    try {
      return this.#filter(event as Ev);
    } catch (error) {
      // A faulty predicate must not unwind the client's message handler: surface it on its own.
      queueMicrotask(() => {
        throw error;
      });
      return false;
    }
  }

  /** Hands one event over (the client calls this synchronously, in wire order). */
  [kDeliver](event: EventLike): void {
    if (this.#closed || !this.accepts(event)) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve(event as Ev);
      return;
    }
    if (this.#count < this.highWaterMark) {
      this.#push(event as Ev);
      return;
    }
    this.#dropped++;
    if (this.overflow === "drop-oldest") {
      this.#shift();
      this.#push(event as Ev);
    } else if (this.overflow === "error") {
      this.#overflowPending = true;
    }
  }

  /** Closes the listener, rejecting waiting `get()` calls with `reason` (the client's one-shot waiters use this). */
  [kEnd](reason: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    const owner = this.#owner;
    this.#owner = undefined;
    owner?.removeListener(this as unknown as EventListener<never>);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(reason);
  }

  /** Registers the owner that `close()` unregisters from; re-opens a closed listener. */
  [kAttach](owner: ListenerOwner): void {
    this.#owner = owner;
    this.#closed = false;
  }

  /** Forgets the owner without closing (used by the owner's own `removeListener`). */
  [kDetach](): void {
    this.#owner = undefined;
  }

  #push(event: Ev): void {
    this.#ring[(this.#head + this.#count) % this.highWaterMark] = event;
    this.#count++;
  }

  #shift(): Ev {
    const event = this.#ring[this.#head] as Ev;
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.highWaterMark;
    this.#count--;
    return event;
  }
}

/**
 * The iterator behind `for await (… of listener)`. It keeps an async generator's contract — `next`, `return` and
 * `throw` served one at a time in call order, finished for good after `return`, `throw`, the listener's close, or
 * an error — without a generator's cost: a buffered event resolves `next()` at once, where the generator spent a
 * `get()` promise, an await and a yield on every event (about half the time per event with ten listeners).
 */
class EventIterator<Ev extends EventLike> implements AsyncGenerator<Ev, void, undefined> {
  readonly #listener: EventListener<Ev>;
  #done = false;
  /** The request still waiting for an event; later requests queue behind it, as a generator's do. */
  #waiting: Promise<unknown> | undefined;

  constructor(listener: EventListener<Ev>) {
    this.#listener = listener;
  }

  next(): Promise<IteratorResult<Ev, void>> {
    return this.#waiting === undefined ? this.#step(true) : this.#queue(() => this.#step(false));
  }

  return(value?: void | PromiseLike<void>): Promise<IteratorResult<Ev, void>> {
    const finish = (): Promise<IteratorResult<Ev, void>> => {
      this.#done = true;
      // A plain value settles at once, so requests made after this one still settle after it.
      if (!isThenable(value)) return Promise.resolve({ done: true, value });
      return Promise.resolve(value).then((v) => ({ done: true, value: v }));
    };
    return this.#waiting === undefined ? finish() : this.#queue(finish);
  }

  throw(error: unknown): Promise<IteratorResult<Ev, void>> {
    const finish = (): Promise<IteratorResult<Ev, void>> => {
      this.#done = true;
      return Promise.reject(error);
    };
    return this.#waiting === undefined ? finish() : this.#queue(finish);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  /** Answers one `next()`. `track`: it was not queued, so it becomes what later requests queue behind. */
  #step(track: boolean): Promise<IteratorResult<Ev, void>> {
    if (this.#done) return Promise.resolve(finished());
    const event = this.#listener[kTake]();
    if (event !== undefined) return Promise.resolve({ done: false, value: event });
    const waiting: Promise<IteratorResult<Ev, void>> = this.#listener.get().then(
      (value) => {
        if (this.#waiting === waiting) this.#waiting = undefined;
        return { done: false, value };
      },
      (error: unknown) => {
        if (this.#waiting === waiting) this.#waiting = undefined;
        this.#done = true;
        if (error instanceof ListenerClosedError) return finished();
        throw error;
      },
    );
    if (track) this.#waiting = waiting;
    return waiting;
  }

  #queue(request: () => Promise<IteratorResult<Ev, void>>): Promise<IteratorResult<Ev, void>> {
    const queued = (this.#waiting as Promise<unknown>).then(request, request);
    const tracked: Promise<IteratorResult<Ev, void>> = queued.then(
      (result) => {
        if (this.#waiting === tracked) this.#waiting = undefined;
        return result;
      },
      (error: unknown) => {
        if (this.#waiting === tracked) this.#waiting = undefined;
        throw error;
      },
    );
    this.#waiting = tracked;
    return tracked;
  }
}

function finished(): IteratorReturnResult<undefined> {
  return { done: true, value: undefined };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
