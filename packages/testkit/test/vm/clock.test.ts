/** The VM clock: a manual clock fires due timers in time order on `advance`; the real clock follows time. */
import { expect, test } from "bun:test";
import { createFakeQemu } from "../../src/index.ts";
import { ManualClock, RealClock } from "../../src/vm/clock.ts";

test("advance fires the timers that fall due, in due order, each seeing its own time", async () => {
  const clock = new ManualClock();
  const fired: [string, number][] = [];
  clock.setTimeout(() => fired.push(["b", clock.now()]), 200);
  clock.setTimeout(() => fired.push(["a", clock.now()]), 100);
  clock.setTimeout(() => fired.push(["late", clock.now()]), 1000);
  await clock.advance(500);
  expect(fired).toEqual([
    ["a", 100],
    ["b", 200],
  ]);
  expect(clock.now()).toBe(500);
  await clock.advance(500);
  expect(fired.at(-1)).toEqual(["late", 1000]);
});

test("a timer scheduled by a timer fires in the same advance when it falls due within it", async () => {
  const clock = new ManualClock();
  const ticks: number[] = [];
  const tick = () => {
    ticks.push(clock.now());
    if (ticks.length < 5) clock.setTimeout(tick, 100);
  };
  clock.setTimeout(tick, 100);
  await clock.advance(350);
  expect(ticks).toEqual([100, 200, 300]);
});

test("work started by a timer settles before the next timer fires", async () => {
  const clock = new ManualClock();
  const log: string[] = [];
  clock.setTimeout(() => {
    void Promise.resolve().then(() => log.push("first's continuation"));
    log.push("first");
  }, 10);
  clock.setTimeout(() => log.push("second"), 20);
  await clock.advance(20);
  expect(log).toEqual(["first", "first's continuation", "second"]);
});

test("cancelled timers never fire; sleep resolves on advance and rejects on abort", async () => {
  const clock = new ManualClock();
  let fired = false;
  clock.setTimeout(() => (fired = true), 10).cancel();
  const slept = clock.sleep(50);
  const controller = new AbortController();
  const aborted = clock.sleep(50, controller.signal).catch((error: Error) => error.message);
  controller.abort(new Error("stop"));
  await clock.advance(50);
  await slept;
  expect(fired).toBe(false);
  expect(await aborted).toBe("stop");
});

test("the real clock refuses advance and tells how to get a manual one", async () => {
  expect(await new RealClock().advance().catch((error: Error) => error.message)).toContain("clock: 'manual'");
});

test("createFakeQemu exposes the clock it was asked for", async () => {
  await using real = await createFakeQemu();
  await using manual = await createFakeQemu({ clock: "manual" });
  expect(real.clock.kind).toBe("real");
  expect(manual.clock.kind).toBe("manual");
  await manual.clock.advance(1000);
  expect(manual.clock.now()).toBe(1000);
});

test("closing the fake stops its clock: timers still pending never fire, later ones are never armed", async () => {
  const manual = await createFakeQemu({ clock: "manual" });
  const fired: string[] = [];
  manual.clock.setTimeout(() => fired.push("manual before close"), 10);
  await manual.close();
  manual.clock.setTimeout(() => fired.push("manual after close"), 0);
  await manual.clock.advance(100);

  const real = await createFakeQemu();
  real.clock.setTimeout(() => fired.push("real before close"), 5);
  await real.close();
  real.clock.setTimeout(() => fired.push("real after close"), 0);
  // Timers fire in due order: both would have fired before this one.
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(fired).toEqual([]);
});
