/**
 * The cancellation helpers must let go of the caller's signal on every path: a signal reused across thousands of
 * calls (one per request handler, one per test) would otherwise collect a listener per call. Each test counts the
 * abort listeners on a wrapped signal and expects none left once the helper settled, whichever way.
 */
import { describe, expect, test } from "bun:test";
import { Deadline, raceAbort, settlesWithin, sleep } from "../src/index.ts";
import { countAbortListeners, within } from "./helpers.ts";

/** An AbortController whose signal counts the abort listeners currently added to it. */
function countedController(): { controller: AbortController; listeners: () => number } {
  const controller = new AbortController();
  return { controller, listeners: countAbortListeners(controller.signal) };
}

describe("raceAbort", () => {
  test("resolves with the work, rejects with its error or the signal's reason; no listener is left", async () => {
    const { controller, listeners } = countedController();
    expect(await raceAbort(Promise.resolve(1), controller.signal)).toBe(1);
    expect(
      await raceAbort(Promise.reject(new Error("work")), controller.signal).catch((e) => e.message),
    ).toBe("work");
    const failure = Promise.withResolvers<never>();
    const failed = raceAbort(new Promise(() => {}), controller.signal, failure.promise);
    failure.reject(new Error("failure"));
    expect(await failed.catch((e) => e.message)).toBe("failure");
    expect(listeners()).toBe(0);
    const hanging = raceAbort(new Promise(() => {}), controller.signal);
    expect(listeners()).toBe(1);
    controller.abort(new Error("aborted"));
    expect(await within(hanging.catch((e) => e.message))).toBe("aborted");
    expect(listeners()).toBe(0);
  });

  test("an already aborted signal rejects at once, without adding a listener", async () => {
    const { controller, listeners } = countedController();
    controller.abort(new Error("before"));
    expect(await raceAbort(Promise.resolve(1), controller.signal).catch((e) => e.message)).toBe("before");
    expect(listeners()).toBe(0);
  });
});

describe("Deadline", () => {
  test("clear() removes its listener on the parent; the signal does not abort later", async () => {
    const { controller, listeners } = countedController();
    const deadline = new Deadline({ timeoutMs: 5, signal: controller.signal });
    expect(listeners()).toBe(1);
    deadline.clear();
    expect(listeners()).toBe(0);
    await Bun.sleep(20);
    expect(deadline.signal.aborted).toBe(false);
  });

  test("the time running out aborts with onTimeout()'s reason and releases the parent", async () => {
    const { controller, listeners } = countedController();
    const deadline = new Deadline({ timeoutMs: 1, signal: controller.signal, onTimeout: () => "late" });
    await within(new Promise((resolve) => deadline.signal.addEventListener("abort", resolve)));
    expect(deadline.signal.reason).toBe("late");
    expect(deadline.timedOut).toBe(true);
    expect(listeners()).toBe(0);
  });

  test("the parent aborting aborts with the parent's reason, and the timer is gone", async () => {
    const { controller, listeners } = countedController();
    const deadline = new Deadline({ timeoutMs: 60_000, signal: controller.signal });
    controller.abort("parent");
    expect(deadline.signal.reason).toBe("parent");
    expect(deadline.timedOut).toBe(false);
    expect(listeners()).toBe(0);
  });

  test("using releases it at the end of the scope; Infinity sets no timer", () => {
    const { controller, listeners } = countedController();
    {
      using deadline = new Deadline({ timeoutMs: Number.POSITIVE_INFINITY, signal: controller.signal });
      expect(deadline.remainingMs).toBe(Number.POSITIVE_INFINITY);
      expect(listeners()).toBe(1);
    }
    expect(listeners()).toBe(0);
  });
});

describe("sleep and settlesWithin", () => {
  test("sleep resolves after the pause or rejects on abort; no listener is left either way", async () => {
    const { controller, listeners } = countedController();
    await within(sleep(1, controller.signal));
    expect(listeners()).toBe(0);
    const long = sleep(60_000, controller.signal);
    expect(listeners()).toBe(1);
    controller.abort(new Error("woken"));
    expect(await within(long.catch((e) => e.message))).toBe("woken");
    expect(listeners()).toBe(0);
  });

  test("settlesWithin: true when the promise settles first, false when the time runs out", async () => {
    expect(await within(settlesWithin(Promise.resolve(), 1000))).toBe(true);
    expect(await within(settlesWithin(new Promise(() => {}), 1))).toBe(false);
  });
});
