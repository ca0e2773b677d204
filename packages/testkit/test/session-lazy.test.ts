/**
 * A monitor session makes its AbortSignal only when something asks for it (a handler's `ctx.signal`, a fault's
 * view of the connection): most sessions never do, and aborting a signal at every disconnect costs an AbortError
 * each time. Asked for early or late, the signal must still tell the truth about the connection.
 */
import { afterEach, expect, test } from "bun:test";
import { type CommandContext, createFakeQemu, type FakeQemu } from "../src/index.ts";
import { RawPeer, within } from "./helpers.ts";

const fakes: FakeQemu[] = [];
const Original = globalThis.AbortController;

afterEach(async () => {
  globalThis.AbortController = Original;
  for (const fake of fakes.splice(0)) await fake.close();
});

/** Counts the AbortControllers the monitor session itself constructs (its caller frame is in session.ts). */
function countSessionControllers(): { made: number } {
  const count = { made: 0 };
  globalThis.AbortController = class extends Original {
    constructor() {
      super();
      const caller = new Error().stack?.split("\n")[2] ?? "";
      if (caller.includes("monitor/session.ts")) count.made++;
    }
  };
  return count;
}

test("a session whose handlers never ask for its signal makes none, even when it ends", async () => {
  const fake = await createFakeQemu();
  fakes.push(fake);
  const count = countSessionControllers();
  const peer = await RawPeer.connect(fake.address);
  await peer.negotiate(true);
  peer.sendJson({ execute: "query-status" });
  await peer.waitLines(3);
  peer.end();
  await peer.waitClosed();
  expect(count.made).toBe(0);
});

test("ctx.signal asked for during a command aborts when the client goes", async () => {
  const fake = await createFakeQemu();
  fakes.push(fake);
  const count = countSessionControllers();
  const signals: AbortSignal[] = [];
  fake.handle("keep-signal", (_args, ctx) => {
    signals.push(ctx.signal);
    return {};
  });
  const peer = await RawPeer.connect(fake.address);
  await peer.negotiate();
  peer.sendJson({ execute: "keep-signal" });
  peer.sendJson({ execute: "keep-signal" });
  await peer.waitLines(4);
  const [first, second] = signals as [AbortSignal, AbortSignal];
  expect(first.aborted).toBe(false);
  // One controller for the session, shared by its commands.
  expect(second).toBe(first);
  expect(count.made).toBe(1);
  const aborted = new Promise((resolve) => first.addEventListener("abort", resolve, { once: true }));
  peer.end();
  await within(aborted, 5000, "the session's signal to abort");
});

test("ctx.signal asked for only after the session ended is already aborted", async () => {
  const fake = await createFakeQemu();
  const contexts: CommandContext[] = [];
  fake.handle("keep-ctx", (_args, ctx) => {
    contexts.push(ctx);
    return {};
  });
  const peer = await RawPeer.connect(fake.address);
  await peer.negotiate();
  peer.sendJson({ execute: "keep-ctx" });
  await peer.waitLines(3);
  // close() returns once every session has ended.
  await fake.close();
  expect(contexts[0]?.signal.aborted).toBe(true);
});
