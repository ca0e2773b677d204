/**
 * Runs a flow against a QMP server and keeps its transcript: the greeting, then per step what was sent and every
 * message received (events and the reply) in wire order. The client's inbound hook sees each message before the
 * client handles it, so an event that QEMU wrote before a reply is recorded before it, never reordered.
 */
import { closeSync, openSync } from "node:fs";
import { connect, type QMPClient, type QMPMessage } from "@qmpkit/qmp";
import type { Flow, FlowContext, Step } from "./flows/flow.ts";

/** One step of a transcript: step 0 carries the greeting, later steps what was sent and received. */
export interface TranscriptStep {
  step: number;
  greeting?: unknown;
  send?: Record<string, unknown>;
  /** The file whose descriptor went with `send`. */
  fd?: string;
  wait?: { event: string; count: number; data?: Record<string, unknown> };
  recv?: unknown[];
  /** Why the step did not complete (no reply or not enough events within the bound, the connection closed). */
  incomplete?: string;
}

const REPLY_BOUND_MS = 15_000;

/** The messages received so far, and a way to wait for more without polling. */
class Inbox {
  readonly messages: QMPMessage[] = [];
  closed = false;
  #wake: (() => void) | undefined;

  push(message: QMPMessage): void {
    this.messages.push(message);
    this.#notify();
  }

  close(): void {
    this.closed = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves when `found` returns an index (into `messages`), or undefined at the deadline or on close. */
  async until(found: () => number | undefined, deadline: number): Promise<number | undefined> {
    for (;;) {
      const index = found();
      if (index !== undefined) return index;
      const left = deadline - performance.now();
      if (this.closed || left <= 0) return undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }
}

function isEvent(message: QMPMessage, name?: string): boolean {
  return typeof message.event === "string" && (name === undefined || message.event === name);
}

/** How many of the events `wait` waits for came in `step` (a command's) before its reply. */
function earlyEvents(step: TranscriptStep, wait: { event: string; data?: Record<string, unknown> }): number {
  let seen = 0;
  for (const message of step.recv ?? []) {
    const m = message as QMPMessage;
    if ("return" in m || "error" in m) break;
    if (isEvent(m, wait.event) && hasMembers(m.data, wait.data)) seen++;
  }
  return seen;
}

/** Whether `value` is an object with each of `want`'s members equal (as JSON); no `want` matches anything. */
function hasMembers(value: unknown, want: Record<string, unknown> | undefined): boolean {
  if (want === undefined) return true;
  const object = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  return Object.entries(want).every(([key, v]) => JSON.stringify(object[key]) === JSON.stringify(v));
}

export interface RunFlowOptions {
  /** Caps every wait step's bound (the fidelity report uses it so a fake that never sends an event stays quick). */
  maxWaitMs?: number;
}

/** Runs `flow` on the server at `address` and returns its raw (not yet normalised) transcript. */
export async function runFlow(
  flow: Flow,
  ctx: FlowContext,
  address: string,
  options: RunFlowOptions = {},
): Promise<TranscriptStep[]> {
  const inbox = new Inbox();
  const client: QMPClient = await connect(address, {
    negotiate: false,
    bigints: true,
    timeoutMs: REPLY_BOUND_MS,
    onInbound: (message) => inbox.push(message),
  });
  const transcript: TranscriptStep[] = [{ step: 0, greeting: client.greeting }];
  // The greeting went through the inbound hook too; it is step 0's, not the first command's.
  let cursor = inbox.messages.findIndex((m) => "QMP" in m) + 1;
  const steps: Step[] = [{ kind: "command", execute: "qmp_capabilities" }, ...flow.steps(ctx)];
  try {
    for (const [index, step] of steps.entries()) {
      const number = index + 1;
      const bound =
        step.kind === "wait" ? Math.min(step.timeoutMs, options.maxWaitMs ?? step.timeoutMs) : REPLY_BOUND_MS;
      const deadline = performance.now() + bound;
      // Keys in a fixed order (step, what was done, recv, incomplete) so fixtures read the same way.
      const entry: TranscriptStep = { step: number };
      let end: number | undefined;
      if (step.kind === "command") {
        const id = String(number);
        const message: Record<string, unknown> = { execute: step.execute };
        if (step.arguments !== undefined) message.arguments = step.arguments;
        message.id = id;
        entry.send = message;
        if (step.fdOf !== undefined) {
          entry.fd = step.fdOf;
          const fd = openSync(step.fdOf, "r+");
          try {
            await client.sendFd(fd);
          } finally {
            closeSync(fd);
          }
        }
        for (;;) {
          // A failed send or a dropped connection ends the wait at once (the reply will never come).
          client.executeRaw(message as never).catch((error: unknown) => {
            entry.incomplete = error instanceof Error ? error.message : String(error);
            inbox.close();
          });
          end = await inbox.until(() => {
            const at = inbox.messages.findIndex((m, i) => i >= cursor && m.id === id);
            return at < 0 ? undefined : at;
          }, deadline);
          if (end === undefined || step.until === undefined) break;
          if (hasMembers((inbox.messages[end] as QMPMessage).return, step.until)) break;
          if (performance.now() > deadline) {
            entry.incomplete = `the reply never had ${JSON.stringify(step.until)} within the bound`;
            break;
          }
          // Not there yet: this reply is not part of the record (events that came meanwhile are), ask again.
          inbox.messages.splice(end, 1);
          await Bun.sleep(5);
        }
      } else {
        entry.wait = {
          event: step.event,
          count: step.count,
          ...(step.data === undefined ? {} : { data: step.data }),
        };
        end = await inbox.until(() => {
          let seen = 0;
          for (let i = cursor; i < inbox.messages.length; i++) {
            const message = inbox.messages[i] as QMPMessage;
            if (isEvent(message, step.event) && hasMembers(message.data, step.data) && ++seen === step.count)
              return i;
          }
          return undefined;
        }, deadline);
      }
      if (end === undefined && step.kind === "wait") {
        // QEMU may send a job's next events before the reply of the command that started it (an active commit
        // reaching READY under load): then they sit in that command's step. See reconcileLateReplies.
        const previous = transcript[transcript.length - 1];
        if (previous?.send !== undefined && earlyEvents(previous, step) >= step.count) end = cursor - 1;
      }
      const stop = end === undefined ? inbox.messages.length : end + 1;
      entry.recv = inbox.messages.slice(cursor, stop);
      cursor = stop;
      transcript.push(entry);
      if (end === undefined) {
        entry.incomplete ??= inbox.closed ? "connection closed" : "not complete within the bound";
        // Without its reply the next step's messages could not be told from this one's: stop here.
        if (step.kind === "command" || inbox.closed) break;
      }
    }
  } finally {
    inbox.close();
    await client.disconnect().catch(() => {});
  }
  return transcript;
}
