/**
 * `for await (… of listener)` is served by a hand-written iterator (cheaper than an async generator per event).
 * These tests hold it to the contract the async generator it replaced had: each scenario runs against the listener's
 * iterator and against that generator, written here over the public `get()`, and the outcomes must be identical —
 * every request's result, the order in which they settle, and the events left in the listener afterwards.
 */
import { describe, expect, test } from "bun:test";
import { EventListener, ListenerClosedError, QMPClient, type QMPEvent } from "../src/index.ts";
import { within } from "./helpers/within.ts";

/** The iteration of qmpkit 0.1.0, verbatim in behaviour: an async generator over get(). */
async function* reference(listener: EventListener): AsyncGenerator<QMPEvent, void, undefined> {
  while (true) {
    let event: QMPEvent;
    try {
      event = await listener.get();
    } catch (error) {
      if (error instanceof ListenerClosedError) return;
      throw error;
    }
    yield event;
  }
}

interface Harness {
  readonly it: AsyncGenerator<QMPEvent, void, undefined>;
  readonly listener: EventListener;
  /** Delivers events E0, E1, … as the client would. */
  push(count: number): void;
}

type Scenario = (h: Harness) => Promise<unknown>[];

/** Runs a scenario; returns each request's outcome and the order in which the requests settled. */
async function run(
  scenario: Scenario,
  make: (l: EventListener) => AsyncGenerator<QMPEvent, void, undefined>,
  options: ConstructorParameters<typeof EventListener>[0] = {},
): Promise<{ outcomes: string[]; order: number[]; closed: boolean; left: string[] }> {
  const client = new QMPClient();
  client.removeListener(client.events);
  const listener = client.listen(options);
  let next = 0;
  const push = (count: number): void => {
    for (let k = 0; k < count; k++, next++) {
      const message = { event: `E${next}`, data: {}, timestamp: { seconds: 0, microseconds: 0 } };
      (client as unknown as { onMessage(m: unknown): void }).onMessage(message);
    }
  };
  const requests = scenario({ it: make(listener), listener, push });
  const order: number[] = [];
  const outcomes = await within(
    Promise.all(
      requests.map((request, i) =>
        request.then(
          (result) => {
            order.push(i);
            const r = result as IteratorResult<QMPEvent, void>;
            return r.done ? `done(${String(r.value)})` : `value ${r.value.event}`;
          },
          (error: unknown) => {
            order.push(i);
            return `error ${(error as Error).name}: ${(error as Error).message}`;
          },
        ),
      ),
    ),
  );
  const left = listener.clear().map((e) => e.event);
  return { outcomes, order, closed: listener.closed, left };
}

async function sameAsGenerator(
  scenario: Scenario,
  options?: ConstructorParameters<typeof EventListener>[0],
): Promise<string[]> {
  const ours = await run(scenario, (l) => l[Symbol.asyncIterator](), options);
  const theirs = await run(scenario, reference, options);
  expect(ours).toEqual(theirs);
  return ours.outcomes;
}

/** Lets pending reactions run, so a scenario can act "later". */
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe("listener iteration keeps the async generator's contract", () => {
  test("buffered events come out in order", async () => {
    const outcomes = await sameAsGenerator(({ it, push }) => {
      push(3);
      return [it.next(), it.next(), it.next()];
    });
    expect(outcomes).toEqual(["value E0", "value E1", "value E2"]);
  });

  test("requests made before any event are answered in call order as events arrive", async () => {
    const outcomes = await sameAsGenerator(({ it, push }) => {
      const requests = [it.next(), it.next(), it.next()];
      void tick().then(() => push(3));
      return requests;
    });
    expect(outcomes).toEqual(["value E0", "value E1", "value E2"]);
  });

  test("return() finishes the iterator for good but leaves the listener open, its events kept", async () => {
    const outcomes = await sameAsGenerator(({ it, push }) => {
      push(3);
      return [it.next(), it.return(), it.next()];
    });
    expect(outcomes).toEqual(["value E0", "done(undefined)", "done(undefined)"]);
    const { closed, left } = await run(
      ({ it, push }) => {
        push(3);
        return [it.next(), it.return()];
      },
      (l) => l[Symbol.asyncIterator](),
    );
    expect(closed).toBe(false);
    expect(left).toEqual(["E1", "E2"]);
  });

  test("return() and throw() queue behind a request that is still waiting", async () => {
    const outcomes = await sameAsGenerator(({ it, push }) => {
      const requests = [it.next(), it.return(), it.next()];
      void tick().then(() => push(1));
      return requests;
    });
    expect(outcomes).toEqual(["value E0", "done(undefined)", "done(undefined)"]);
    const thrown = await sameAsGenerator(({ it, push }) => {
      const requests = [it.next(), it.throw(new RangeError("stop")), it.next()];
      void tick().then(() => push(2));
      return requests;
    });
    expect(thrown).toEqual(["value E0", "error RangeError: stop", "done(undefined)"]);
  });

  test("throw() before any request rejects with the error and finishes", async () => {
    const outcomes = await sameAsGenerator(({ it, push }) => {
      push(1);
      return [it.throw(new TypeError("no")), it.next()];
    });
    expect(outcomes).toEqual(["error TypeError: no", "done(undefined)"]);
  });

  test("closing the listener ends every waiting request, after the buffered events", async () => {
    const outcomes = await sameAsGenerator(({ it, push, listener }) => {
      push(1);
      const requests = [it.next(), it.next(), it.next()];
      void tick().then(() => listener.close());
      return requests;
    });
    expect(outcomes).toEqual(["value E0", "done(undefined)", "done(undefined)"]);
  });

  test("an overflow under overflow: 'error' rejects once and finishes the iterator", async () => {
    const outcomes = await sameAsGenerator(
      ({ it, push }) => {
        push(3);
        return [it.next(), it.next()];
      },
      { highWaterMark: 2, overflow: "error" },
    );
    expect(outcomes[0]).toStartWith("error EventOverflowError");
    expect(outcomes[1]).toBe("done(undefined)");
  });

  test("the iterator is its own iterable, and disposing it finishes it", async () => {
    const listener = new EventListener();
    const it = listener[Symbol.asyncIterator]();
    expect(it[Symbol.asyncIterator]()).toBe(it);
    await it[Symbol.asyncDispose]();
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(listener.closed).toBe(false);
  });
});
