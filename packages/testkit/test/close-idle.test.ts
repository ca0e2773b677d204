/**
 * Closing a monitor session that has nothing unwritten races no grace period: a grace period is a timer and a race,
 * and an in-process connection has closed by the time the server ends it. Only what is not done yet is waited for,
 * with its grace timer (bytes a client has not taken, a kernel socket's close still to come).
 */
import { afterEach, expect, spyOn, test } from "bun:test";
import { createFakeQemu, type FakeQemu } from "../src/index.ts";
import { RawPeer } from "./helpers.ts";

const fakes: FakeQemu[] = [];

afterEach(async () => {
  for (const fake of fakes.splice(0)) await fake.close();
});

/** Counts the timers set while the monitor's code is on the stack (a grace period's deadline among them). */
function countMonitorTimers(): { set: number; restore(): void } {
  const original = globalThis.setTimeout;
  const count = {
    set: 0,
    restore: () => spy.mockRestore(),
  };
  const spy = spyOn(globalThis, "setTimeout").mockImplementation(((
    ...args: Parameters<typeof setTimeout>
  ) => {
    if (new Error().stack?.includes("/src/monitor/")) count.set++;
    return original(...args);
  }) as typeof setTimeout);
  return count;
}

test("closing an idle in-process fake sets no timer, and its clients are gone when close() returns", async () => {
  const fake = await createFakeQemu({ inProcess: true });
  fakes.push(fake);
  const peer = await RawPeer.connect(fake.address);
  await peer.negotiate();
  peer.sendJson({ execute: "query-status" });
  await peer.waitLines(3);
  expect(fake.clients).toHaveLength(1);
  const timers = countMonitorTimers();
  try {
    const closing = fake.close();
    expect(fake.clients).toEqual([]);
    await closing;
    await fake.exited;
    expect(timers.set).toBe(0);
  } finally {
    timers.restore();
  }
  await peer.waitClosed();
});
