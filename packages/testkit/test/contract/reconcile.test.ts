/**
 * reconcileLateReplies: a command whose reply QEMU sent after the events of the wait that follows it, where the
 * recording had the reply first, matches the recording; any other difference still fails. And the runner lets such
 * a wait complete instead of reporting it incomplete.
 */
import { expect, test } from "bun:test";
import { createFakeQemu } from "../../src/index.ts";
import { runFlow } from "./flow-runner.ts";
import { reconcileLateReplies } from "./flow-session.ts";
import type { Flow } from "./flows/flow.ts";

const created = { event: "JOB_STATUS_CHANGE", data: { status: "created", id: "k1" } };
const ready = { event: "JOB_STATUS_CHANGE", data: { status: "ready", id: "k1" } };
const readyEvent = { event: "BLOCK_JOB_READY", data: { device: "k1" } };
const reply = { return: {}, id: "35" };
const send = { execute: "block-commit", arguments: { "job-id": "k1", device: "top2" }, id: "35" };
const wait = { event: "BLOCK_JOB_READY", count: 1 };
const line = (step: Record<string, unknown>) => JSON.stringify(step);

const recorded = [
  line({ step: 35, send, recv: [created, reply] }),
  line({ step: 36, wait, recv: [ready, readyEvent] }),
  line({ step: 37, send: { execute: "query-jobs", id: "37" }, recv: [{ return: [], id: "37" }] }),
];

test("a reply that came after the next wait's events stands for the recorded order", () => {
  const live = [
    line({ step: 35, send, recv: [created, ready, readyEvent, reply] }),
    line({ step: 36, wait, recv: [] }),
    recorded[2] as string,
  ];
  expect(reconcileLateReplies(live, recorded)).toEqual(recorded);
});

test("a reply earlier than recorded, other events, or an incomplete wait still differ", () => {
  const earlier = [
    line({ step: 35, send, recv: [reply, created] }),
    line({ step: 36, wait, recv: [ready, readyEvent] }),
    recorded[2] as string,
  ];
  expect(reconcileLateReplies(earlier, recorded)).toEqual(earlier);
  const otherEvents = [
    line({ step: 35, send, recv: [created, readyEvent, reply] }),
    line({ step: 36, wait, recv: [] }),
    recorded[2] as string,
  ];
  expect(reconcileLateReplies(otherEvents, recorded)).toEqual(otherEvents);
  const incomplete = [
    line({ step: 35, send, recv: [created, ready, readyEvent, reply] }),
    line({ step: 36, wait, recv: [], incomplete: "not complete within the bound" }),
    recorded[2] as string,
  ];
  expect(reconcileLateReplies(incomplete, recorded)).toEqual(incomplete);
});

test("runFlow: a wait whose events came before the previous command's reply completes, with nothing of its own", async () => {
  await using fake = await createFakeQemu();
  // A command that sends the awaited event before its reply, as QEMU's block-commit may under load.
  fake.handle("x-early", () => {
    fake.emit("BLOCK_JOB_READY", { device: "k1" });
    return {};
  });
  const flow = {
    name: "early",
    description: "an event before the reply it follows",
    vm: {},
    // The runner sends qmp_capabilities first (step 1).
    steps: () => [
      { kind: "command", execute: "x-early" },
      { kind: "wait", event: "BLOCK_JOB_READY", count: 1, timeoutMs: 200 },
    ],
  } as unknown as Flow;
  const transcript = await runFlow(flow, { dir: "/nonexistent" }, fake.address);
  const [command, wait] = transcript.slice(2);
  expect(command?.recv?.map((m) => ("event" in (m as object) ? "event" : "reply"))).toEqual([
    "event",
    "reply",
  ]);
  expect(wait).toEqual({ step: 3, wait: { event: "BLOCK_JOB_READY", count: 1 }, recv: [] });
});
