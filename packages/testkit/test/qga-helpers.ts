// Shared by the qga-*.test.ts files: bounded waits, the real-agent gate, and cleanup.

import { QGAClient, type QGAClientOptions, type QGAMessage } from "@qmpkit/qmp";
import { skipWithoutQemuGa as shouldSkip } from "../src/qga/spawn-qemu-ga.ts";

export { requireQemuGa } from "../src/qga/spawn-qemu-ga.ts";
/** Real-agent tests run when qemu-ga is installed, and also under CI=true, where its absence must fail. */
export const skipWithoutQemuGa = shouldSkip();

/** Rejects if `promise` does not settle within `ms`: a bound on waits, never a synchronisation. */
export function within<T>(promise: Promise<T>, ms = 5000, what = "operation"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]);
}

/** The rejection of `promise` (fails if it resolves), within a bound. */
export async function rejection(promise: Promise<unknown>, ms = 5000): Promise<unknown> {
  try {
    await within(promise, ms, "rejection");
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection, but the promise resolved");
}

/** A client that records every inbound message (sentinel shown as `\xff`), for assertions on what was skipped. */
export function recordingClient(options: QGAClientOptions = {}): { qga: QGAClient; inbound: string[] } {
  const inbound: string[] = [];
  const qga = new QGAClient({
    ...options,
    onInbound: (message: QGAMessage) => inbound.push(`${message.delimited ? "\\xff" : ""}${message.text}`),
  });
  return { qga, inbound };
}

/** Cleanups run after each test, newest first. */
export function cleanupList(): { add(cleanup: () => unknown): void; run(): Promise<void> } {
  const cleanups: (() => unknown)[] = [];
  return {
    add: (cleanup) => cleanups.push(cleanup),
    async run() {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    },
  };
}
