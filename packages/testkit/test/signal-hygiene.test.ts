/**
 * Every call that takes an AbortSignal — QMP and QGA commands, event waits, connecting — must remove the listener
 * it added once it settles, on every path (answered, timed out, aborted, failed). A caller that reuses one signal
 * for a long-lived job would otherwise collect a listener, and everything it holds, per call. The signals are
 * patched to count their abort listeners (`countAbortListeners`).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { QMPClient } from "@qmpkit/qmp";
import { QGAClient } from "@qmpkit/qmp/qga";
import { countAbortListeners } from "../../protocol-core/test/helpers.ts";
import { createFakeQemu, type FakeQemu, faults } from "../src/index.ts";
import { createFakeQGA } from "../src/qga/fake-qga.ts";
import { within } from "./helpers.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function counted(): { controller: AbortController; signal: AbortSignal; listeners: () => number } {
  const controller = new AbortController();
  return { controller, signal: controller.signal, listeners: countAbortListeners(controller.signal) };
}

async function fakeQemu(): Promise<FakeQemu> {
  const fake = await createFakeQemu({ faults: [faults.delay("query-kvm", 60_000)] });
  cleanups.push(() => fake.close());
  return fake;
}

async function qmpClient(fake: FakeQemu, signal?: AbortSignal): Promise<QMPClient> {
  const client = new QMPClient();
  cleanups.push(() => client.disconnect().catch(() => {}));
  await within(client.connect(fake.address, signal === undefined ? {} : { signal }));
  return client;
}

describe("QMP", () => {
  test("connect(): the signal is let go once connected, and after a failed attempt", async () => {
    const fake = await fakeQemu();
    const { signal, listeners } = counted();
    await qmpClient(fake, signal);
    expect(listeners()).toBe(0);
    const refused = new QMPClient();
    await refused.connect(`${fake.address}.absent`, { signal }).catch(() => {});
    expect(listeners()).toBe(0);
  });

  test("execute(): answered, timed out, aborted; waitForEvent() and listener.get(): matched, timed out, aborted", async () => {
    const fake = await fakeQemu();
    const client = await qmpClient(fake);
    const { controller, signal, listeners } = counted();
    await within(client.execute("query-status", undefined, { signal }));
    const stopped = client.waitForEvent("STOP", { signal });
    await within(client.execute("stop", undefined, { signal }));
    await within(stopped);
    await client.waitForEvent("NEVER", { signal, timeoutMs: 10 }).catch(() => {});
    using listener = client.listen({ names: ["RESUME"] });
    const resumed = listener.get({ signal });
    await within(client.execute("cont", undefined, { signal }));
    await within(resumed);
    await listener.get({ signal, timeoutMs: 10 }).catch(() => {});
    // query-kvm is held by the fake, and with it the in-band queue (as QEMU's): these come last.
    await client.execute("query-kvm", undefined, { signal, timeoutMs: 10 }).catch(() => {});
    expect(listeners()).toBe(0);
    const hanging = [
      client.execute("query-kvm", undefined, { signal }),
      client.waitForEvent("NEVER", { signal }),
      listener.get({ signal }),
    ].map((p) => p.catch((e: unknown) => e));
    expect(listeners()).toBe(3);
    controller.abort(new Error("enough"));
    for (const outcome of await within(Promise.all(hanging)))
      expect((outcome as Error).message).toBe("enough");
    expect(listeners()).toBe(0);
  });
});

describe("QGA", () => {
  /** Counts the listeners on the signal the session set-up (guest-sync-delimited) is given. */
  class CountingQGAClient extends QGAClient {
    setupListeners: (() => number) | undefined;
    protected override establishSession(signal: AbortSignal): Promise<void> {
      this.setupListeners = countAbortListeners(signal);
      return super.establishSession(signal);
    }
  }

  test("the session set-up removes its abort listener (it used to leak one per connect)", async () => {
    const fake = await createFakeQGA();
    cleanups.push(() => fake.close());
    const qga = new CountingQGAClient();
    cleanups.push(() => qga.disconnect().catch(() => {}));
    await within(qga.connect(fake.address));
    expect(qga.setupListeners?.()).toBe(0);
  });

  test("commands: answered, timed out, aborted; the caller's signal ends with no listener", async () => {
    const fake = await createFakeQGA({ faults: { neverAnswer: ["guest-get-time"] } });
    cleanups.push(() => fake.close());
    const { controller, signal, listeners } = counted();
    const qga = new QGAClient();
    cleanups.push(() => qga.disconnect().catch(() => {}));
    await within(qga.connect(fake.address, { signal }));
    expect(listeners()).toBe(0);
    await within(qga.ping({ signal }));
    await qga.executeUntyped("guest-get-time", undefined, { signal, timeoutMs: 10 }).catch(() => {});
    await within(qga.ping({ signal }));
    expect(listeners()).toBe(0);
    const hanging = qga.executeUntyped("guest-get-time", undefined, { signal }).catch((e: unknown) => e);
    controller.abort(new Error("enough"));
    expect(((await within(hanging)) as Error).message).toBe("enough");
    expect(listeners()).toBe(0);
  });
});
