/**
 * qmpkit's `QMPClient` as a contender in workloads 1–5.
 *
 * bench/ is not a workspace package, so `@qmpkit/qmp` does not resolve from here (bun's isolated layout links a
 * workspace package only into the packages that declare it): the client is imported from the package's entry file
 * by a relative path, which is the same module the package's `exports` point at.
 */
import type { Logger } from "../../packages/protocol-core/src/index.ts";
import { connect, type EventListener, type QMPClient, type QMPEvent } from "../../packages/qmp/src/index.ts";
import type { Contender, Measurement, Target } from "./contender.ts";

/**
 * A listener's buffer must hold every event of one socket read (the consumer runs only between reads). A read is
 * at most ~512 KiB here, about 5,000 events; this leaves room and is still a bound.
 */
const EVENT_BUFFER = 1 << 16;

/** A logger that is off and counts every call, to show disabled logging formats nothing. */
export class CountingLogger implements Logger {
  readonly enabled = false;
  calls = 0;
  debug(): void {
    this.calls++;
  }
  info(): void {
    this.calls++;
  }
  warn(): void {
    this.calls++;
  }
  error(): void {
    this.calls++;
  }
}

async function session(t: Target, logger: Logger | undefined): Promise<QMPClient> {
  return connect(t.address, logger === undefined ? {} : { logger });
}

/** Consume a listener with `for await` (the documented way) until `n` events were seen. */
async function consume(listener: EventListener<QMPEvent>, n: number): Promise<void> {
  if (n === 0) return;
  let seen = 0;
  for await (const _event of listener) {
    if (++seen === n) return;
  }
  throw new Error(`listener ended after ${seen} of ${n} events`);
}

/**
 * The QMPClient contender. With `logger`, every session gets that (disabled) logger instead of the default one, so
 * a run can prove that disabled debug logging is never called on the hot path.
 */
export function qmpkitClient(name = "qmpkit QMPClient", logger?: Logger): Contender {
  return {
    name,
    inProcess: true,

    async connect(t, n) {
      const t0 = Bun.nanoseconds();
      for (let i = 0; i < n; i++) {
        const c = await session(t, logger);
        await c.disconnect();
      }
      return { ns: Bun.nanoseconds() - t0, ops: n };
    },

    async seq(t, n) {
      const c = await session(t, logger);
      const t0 = Bun.nanoseconds();
      for (let i = 0; i < n; i++) await c.execute("query-status");
      const ns = Bun.nanoseconds() - t0;
      await c.disconnect();
      return { ns, ops: n };
    },

    async pipe(t, n) {
      const c = await session(t, logger);
      const t0 = Bun.nanoseconds();
      const replies: Promise<unknown>[] = new Array(n);
      for (let i = 0; i < n; i++) replies[i] = c.execute("query-status");
      await Promise.all(replies);
      const ns = Bun.nanoseconds() - t0;
      await c.disconnect();
      return { ns, ops: n };
    },

    async schema(t, n) {
      const c = await session(t, logger);
      const t0 = Bun.nanoseconds();
      for (let i = 0; i < n; i++) {
        const entries = await c.execute("query-qmp-schema");
        if (entries.length === 0) throw new Error("empty schema");
      }
      const ns = Bun.nanoseconds() - t0;
      await c.disconnect();
      return { ns, ops: n };
    },

    events: (t, n, listeners) => events(t, n, listeners, logger),
  };
}

/**
 * `listeners` listeners, each drained by its own `for await` loop. The client's default `events` listener (1024
 * events, drop-oldest) is removed first: it cannot hold one socket read of a flood, and "through N listeners" then
 * means N. Every listener must see all n events and drop none.
 */
async function events(t: Target, n: number, count: number, logger: Logger | undefined): Promise<Measurement> {
  const c = await session(t, logger);
  c.removeListener(c.events);
  const listeners = Array.from({ length: count }, () => c.listen({ highWaterMark: EVENT_BUFFER }));
  const t0 = Bun.nanoseconds();
  const consumers = listeners.map((l) => consume(l, n));
  await Promise.all([c.executeUntyped("bench-events", { count: n }), ...consumers]);
  const ns = Bun.nanoseconds() - t0;
  for (const l of listeners) {
    if (l.dropped > 0) throw new Error(`a listener dropped ${l.dropped} of ${n} events`);
    l.close();
  }
  await c.disconnect();
  return { ns, ops: n };
}

/**
 * "No cost for disabled debug logging", measured: the client with an injected logger that is disabled and counts
 * every call, beside the default row, in workloads 2 and 3 against the C server. A run in which the client called
 * the logger at all fails (its row is then dropped with a notice naming the count).
 */
export function qmpkitDisabledLoggerClient(): Contender {
  const logger = new CountingLogger();
  const inner = qmpkitClient("qmpkit QMPClient, disabled logger (0 calls checked)", logger);
  const checked =
    (run: (t: Target, n: number) => Promise<Measurement>) =>
    async (t: Target, n: number): Promise<Measurement> => {
      logger.calls = 0;
      const m = await run(t, n);
      if (logger.calls > 0) throw new Error(`the disabled logger was called ${logger.calls} times`);
      return m;
    };
  return {
    ...inner,
    onlyWorkloads: [2, 3],
    onlyTargets: ["C server"],
    connect: checked(inner.connect),
    seq: checked(inner.seq),
    pipe: checked(inner.pipe),
    schema: checked(inner.schema),
    events: (t, n, listeners) => checked((tt, nn) => inner.events(tt, nn, listeners))(t, n),
  };
}
