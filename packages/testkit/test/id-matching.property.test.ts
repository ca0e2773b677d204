/**
 * Reply matching with the fewest bytes (issue 16): an in-band command goes without an id only when no other
 * in-band reply is due, abandoned commands' included; `exec-oob` always carries one. Random mixes of sequential
 * and concurrent commands, some abandoned (aborted right after sending), some timing out, some out-of-band, run
 * against the fake with the faults QEMU itself can produce (slow commands, replies split into bytes, event floods,
 * replies with ids nobody sent). Checked:
 *
 * - every command settles with its own reply (its tag), or with the error its fate calls for;
 * - on the wire, as the client saw it (its outbound and inbound hooks, in order): an in-band command without an
 *   id is sent only when no in-band reply is due, every exec-oob has an id, and no reply arrives that the model
 *   does not expect;
 * - afterwards nothing is pending and a plain command still works.
 *
 * Faults QEMU never produces (a reply sent twice, a reply with its id removed) are left out on purpose: with an
 * id-less command in flight, a duplicate of the previous id-less reply would look like its answer. QEMU answers
 * each in-band command exactly once, in order, which is what makes leaving the id out safe.
 *
 * Replay a failure with `QMPKIT_PROPERTY_SEED=<seed> QMPKIT_PROPERTY_PATH=<path>`.
 */
import { describe, expect, test } from "bun:test";
import { QMPClient, type QMPMessage, TimeoutError } from "@qmpkit/qmp";
import fc from "fast-check";
import { propertySettings, propertyTimeout, settle } from "../../qmp/test/reliability-helpers.ts";
import { createFakeQemu, type Fault, faults } from "../src/index.ts";

const BUDGET_MS = 60_000;
const BOUND_MS = 10_000;
const ABANDONED = new Error("abandoned by the test");

type Fate = "answer" | "abandon" | "timeout";
interface Command {
  oob: boolean;
  fate: Fate;
  /** How long the fake takes to run it. */
  workMs: number;
}
/** One step: a command alone (awaited before the next step), or a batch sent together. */
type Step = Command[];

const command: fc.Arbitrary<Command> = fc.record({
  oob: fc.boolean(),
  fate: fc.constantFrom<Fate>("answer", "answer", "abandon", "timeout"),
  workMs: fc.constantFrom(0, 0, 1, 5, 20),
});
const step: fc.Arbitrary<Step> = fc.oneof(
  command.map((c) => [c]),
  fc.array(command, { minLength: 2, maxLength: 6 }),
);

type FaultSpec = "splitReplies" | "eventFlood" | "slowEverything" | "unsolicitedReply";
function makeFault(spec: FaultSpec): Fault {
  switch (spec) {
    case "splitReplies":
      return faults.splitReplies();
    case "eventFlood":
      return faults.eventFlood({ event: "FLOOD", count: 5, trigger: "work" });
    case "slowEverything":
      return faults.delay("*", 2);
    case "unsolicitedReply":
      return faults.unsolicitedReply({ surprise: true }, "nobody-sent-this");
  }
}

const scenario = fc.record({
  faults: fc.uniqueArray(
    fc.constantFrom<FaultSpec>("splitReplies", "eventFlood", "slowEverything", "unsolicitedReply"),
  ),
  steps: fc.array(step, { minLength: 1, maxLength: 12 }),
});

/**
 * The wire as the client saw it, checked message by message: how many in-band replies are due, which oob ids
 * are in flight. Fed by the client's own hooks, which see messages in the order they are written and read.
 */
class WireModel {
  inbandDue = 0;
  readonly #oob = new Set<unknown>();
  readonly violations: string[] = [];

  outbound(message: QMPMessage): void {
    if (message["exec-oob"] !== undefined) {
      if (message.id === undefined) this.violations.push(`exec-oob without id: ${JSON.stringify(message)}`);
      this.#oob.add(message.id);
      return;
    }
    if (message.id === undefined && this.inbandDue > 0) {
      this.violations.push(`in-band command without id while ${this.inbandDue} replies were due`);
    }
    this.inbandDue++;
  }

  inbound(message: QMPMessage): void {
    if (!("return" in message) && message.error === undefined) return; // greeting, event
    if (message.id === "nobody-sent-this") return; // the unsolicitedReply fault
    if (this.#oob.delete(message.id)) return;
    this.inbandDue--;
    if (this.inbandDue < 0)
      this.violations.push(`an in-band reply nobody was waiting for: ${JSON.stringify(message)}`);
  }
}

async function runScenario(s: { faults: FaultSpec[]; steps: Step[] }): Promise<void> {
  await using fake = await createFakeQemu({ schema: false, record: false });
  fake.handle(
    "work",
    async (args) => {
      if ((args.ms as number) > 0) await Bun.sleep(args.ms as number);
      return { tag: args.tag };
    },
    { allowOob: true },
  );
  for (const spec of s.faults) fake.inject(makeFault(spec));
  const wire = new WireModel();
  const client = new QMPClient({
    onOutbound: (message) => wire.outbound(message),
    onInbound: (message) => wire.inbound(message),
  });
  try {
    await settle(client.connect(fake.address), BOUND_MS, "connect").then((o) => {
      if (!o.ok) throw o.error;
    });
    let tag = 0;
    for (const batch of s.steps) {
      const runs = batch.map((c) => run(client, c, tag++));
      await Promise.all(runs);
    }
    // Whatever was abandoned or timed out, a plain command is answered with its own reply.
    expect(await settle(client.executeUntyped("work", { tag: -1, ms: 0 }), BOUND_MS, "last")).toEqual({
      ok: true,
      value: { tag: -1 },
    });
    expect(wire.violations).toEqual([]);
  } finally {
    await client.disconnect().catch(() => {});
  }
  expect(client.pendingCount).toBe(0);
}

async function run(client: QMPClient, c: Command, tag: number): Promise<void> {
  const controller = new AbortController();
  const options = {
    oob: c.oob,
    signal: controller.signal,
    ...(c.fate === "timeout" ? { timeoutMs: 1 } : {}),
  };
  const pending = client.executeUntyped("work", { tag, ms: c.workMs }, options);
  if (c.fate === "abandon") queueMicrotask(() => controller.abort(ABANDONED));
  const outcome = await settle(pending, BOUND_MS, `work #${tag}`);
  if (outcome.ok) {
    // Abandoned and timed-out commands may still win the race; whoever resolves gets its own reply.
    expect(outcome.value).toEqual({ tag });
    return;
  }
  if (c.fate === "abandon") expect(outcome.error).toBe(ABANDONED);
  else if (c.fate === "timeout") expect(outcome.error).toBeInstanceOf(TimeoutError);
  else throw outcome.error;
}

describe("reply matching with commands sent without ids", () => {
  test(
    "sequential, concurrent, abandoned, timed-out and oob commands each get their own reply; ids only when needed",
    async () => {
      await fc.assert(fc.asyncProperty(scenario, runScenario), propertySettings(30, 40, BUDGET_MS));
    },
    propertyTimeout(BUDGET_MS),
  );
});
