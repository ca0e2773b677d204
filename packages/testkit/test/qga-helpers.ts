// Shared by the qga-*.test.ts files: bounded waits, the real-agent gate, and cleanup.

import { QGAClient, type QGAClientOptions, type QGAMessage } from "@qmpkit/qmp/qga";
import { skipWithoutQemuGa as shouldSkip } from "../src/qga/spawn-qemu-ga.ts";
import { within } from "./helpers.ts";

export { requireQemuGa } from "../src/qga/spawn-qemu-ga.ts";
export { within };
/** Real-agent tests run when qemu-ga is installed, and also under CI=true, where its absence must fail. */
export const skipWithoutQemuGa = shouldSkip();

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
