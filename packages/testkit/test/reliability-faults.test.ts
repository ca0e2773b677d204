/**
 * Client against the testkit's fake QEMU under a random fault schedule per run (issue 9, item 1).
 *
 * Each run injects 0–4 faults (drops, resets, splits, delays, garbage, wrong ids, unsolicited replies, floods,
 * greeting faults) into one connection, drives a random sequence of command batches through
 * it (sometimes calling `disconnect()` in the middle of a batch), disconnects, then reconnects the same client object to the same fake (no faults now). It checks:
 *
 * - every `execute` settles within its timeout plus a margin: with its own reply, or with a typed `QMPError`;
 * - every event is delivered once, in wire order: a listener's events equal, one for one and in order, the
 *   event messages the client read off the wire (its `onInbound` hook) — all of them for a session that was
 *   established, a prefix for a set-up that failed; `SEQ` numbers never go backwards and have no gaps inside
 *   a session; every flood arrives as an unbroken prefix 0, 1, 2, …;
 * - `disconnect()` always ends in IDLE with nothing pending (it may rethrow a typed error, once);
 * - the same client object then connects again and works, events still in order.
 *
 * Not drawn: `missingId` and `duplicateReply`, replies QEMU never sends. Since the client sends a command without
 * an id when no other in-band reply is due (issue 16), an id-less copy of another command's reply is
 * indistinguishable from that command's own; faults.test.ts covers both faults with commands that carry ids.
 *
 * A failure prints fast-check's seed and path; replay with
 * `QMPKIT_PROPERTY_SEED=<seed> QMPKIT_PROPERTY_PATH=<path> bun test packages/testkit/test/reliability-faults.test.ts`.
 */
import { describe, expect, test } from "bun:test";
import { QMPClient, QMPError, type QMPEvent, type QMPMessage, Runstate } from "@qmpkit/qmp";
import fc from "fast-check";
import { propertySettings, propertyTimeout, settle } from "../../qmp/test/reliability-helpers.ts";
import { createFakeQemu, type FakeQemu, type Fault, faults } from "../src/index.ts";

const EXEC_TIMEOUT_MS = 300;
const SESSION_TIMEOUT_MS = 400;
/** Scheduling slack on top of a timeout, for a loaded 2-core machine: a bound on waits, not a measurement. */
const SLACK_MS = 5000;
/** disconnect() may wait twice its 5 s close grace (flush, then the peer's close) before it resets. */
const DISCONNECT_BOUND_MS = 12_000;
const BUDGET_MS = 90_000;

// ---- the fault schedule, as plain data so a counterexample prints readably ------------------------------------

const COMMANDS = ["echo", "emit", "query-status"] as const;
const command = fc.constantFrom<string>(...COMMANDS);
const commandOrAll = fc.constantFrom<string>(...COMMANDS, "*");

type FaultSpec =
  | { kind: "noGreeting" | "malformedGreeting" | "splitReplies" }
  | { kind: "slowGreeting"; ms: number }
  | {
      kind: "garbage";
      bytes: number[];
      when: "before-greeting" | "after-greeting" | "after-negotiation" | string;
    }
  | { kind: "hugeReply"; command: string; kib: number }
  | { kind: "closeAfterBytes"; bytes: number }
  | { kind: "closeMidMessage" | "reset" | "wrongId"; command: string }
  | { kind: "unsolicitedReply"; id: unknown }
  | { kind: "delay"; command: string; ms: number }
  | { kind: "eventFlood"; count: number; trigger: string | undefined };

const faultSpec: fc.Arbitrary<FaultSpec> = fc.oneof(
  fc.constantFrom<FaultSpec>({ kind: "noGreeting" }, { kind: "malformedGreeting" }, { kind: "splitReplies" }),
  fc.record({ kind: fc.constant("slowGreeting" as const), ms: fc.integer({ min: 0, max: 150 }) }),
  fc.record({
    kind: fc.constant("garbage" as const),
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 48 }),
    when: fc.constantFrom("before-greeting", "after-greeting", "after-negotiation", ...COMMANDS),
  }),
  fc.record({ kind: fc.constant("hugeReply" as const), command, kib: fc.integer({ min: 1, max: 2048 }) }),
  fc.record({ kind: fc.constant("closeAfterBytes" as const), bytes: fc.integer({ min: 0, max: 3000 }) }),
  fc.record({
    kind: fc.constantFrom("closeMidMessage", "reset", "wrongId"),
    command: commandOrAll,
  }),
  // Ids the client never has in flight: look-alikes of generated ones (those are the sequence numbers from 1 up,
  // and a reply to a live id is that command's reply, whatever it says: so 0, a negative, a fraction, or a
  // number's text), other strings, null.
  fc.record({
    kind: fc.constant("unsolicitedReply" as const),
    id: fc.constantFrom<unknown>("unsolicited", "1", 0, -1, 1.5, null),
  }),
  fc.record({
    kind: fc.constant("delay" as const),
    command: commandOrAll,
    ms: fc.integer({ min: 0, max: 150 }),
  }),
  fc.record({
    kind: fc.constant("eventFlood" as const),
    count: fc.integer({ min: 1, max: 400 }),
    trigger: fc.option(command, { nil: undefined }),
  }),
);

function makeFault(spec: FaultSpec, index: number): Fault {
  switch (spec.kind) {
    case "noGreeting":
    case "malformedGreeting":
    case "splitReplies":
      return faults[spec.kind]();
    case "slowGreeting":
      return faults.slowGreeting(spec.ms);
    case "garbage": {
      const when = (COMMANDS as readonly string[]).includes(spec.when) ? { instead: spec.when } : spec.when;
      return faults.garbage(Uint8Array.from(spec.bytes), when as Parameters<typeof faults.garbage>[1]);
    }
    case "hugeReply":
      return faults.hugeReply(spec.command, spec.kib / 1024);
    case "closeAfterBytes":
      return faults.closeAfterBytes(spec.bytes);
    case "closeMidMessage":
    case "reset":
    case "wrongId":
      return faults[spec.kind](spec.command);
    case "unsolicitedReply":
      return faults.unsolicitedReply({}, spec.id);
    case "delay":
      return faults.delay(spec.command, spec.ms);
    case "eventFlood": {
      const options = { event: `FLOOD${index}`, count: spec.count };
      return faults.eventFlood(spec.trigger === undefined ? options : { ...options, trigger: spec.trigger });
    }
  }
}

// ---- what the client does ----------------------------------------------------------------------------------

interface Op {
  command: (typeof COMMANDS)[number] | "no-such-command";
  events: number;
  oob: boolean;
}

const op: fc.Arbitrary<Op> = fc.record({
  command: fc.constantFrom<Op["command"]>(...COMMANDS, "no-such-command"),
  events: fc.integer({ min: 0, max: 5 }),
  oob: fc.boolean(),
});

const scenario = fc.record({
  faults: fc.array(faultSpec, { maxLength: 4 }),
  batches: fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
  maxMessageBytes: fc.constantFrom(1024 * 1024, 10 * 1024 * 1024),
  /** Call disconnect() while this batch is in flight (its commands then end with ExecInterruptedError). */
  disconnectDuring: fc.option(fc.nat({ max: 3 }), { nil: undefined }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

/** One connect attempt's view: what came off the wire and what the listener delivered. */
interface Attempt {
  established: boolean;
  inbound: QMPEvent[];
  delivered: QMPEvent[];
}

/** A fake whose `echo` returns its tag and whose `emit` sends numbered `SEQ` events before returning its tag. */
async function startFake(): Promise<FakeQemu & { seq: { next: number } }> {
  const fake = await createFakeQemu({ schema: false, record: false });
  const seq = { next: 0 };
  fake.handle("echo", (args) => ({ tag: args.tag }), { allowOob: true });
  fake.handle(
    "emit",
    (args, ctx) => {
      for (let i = 0; i < (args.events as number); i++) ctx.emit("SEQ", { seq: seq.next++ });
      return { tag: args.tag };
    },
    { allowOob: true },
  );
  return Object.assign(fake, { seq });
}

/** Runs one batch concurrently; every command must settle in time, with its own reply or a typed error. */
async function runBatch(
  client: QMPClient,
  batch: Op[],
  tagBase: number,
  huge: ReadonlyMap<string, number>,
): Promise<void> {
  const runs = batch.map(async (o, i) => {
    const tag = tagBase + i;
    const args = o.command === "query-status" ? undefined : { tag, events: o.events };
    const outcome = await settle(
      client.executeUntyped(o.command, args, { timeoutMs: EXEC_TIMEOUT_MS, oob: o.oob }),
      EXEC_TIMEOUT_MS + SLACK_MS,
      `${o.command} #${tag}`,
    );
    if (!outcome.ok) {
      if (!(outcome.error instanceof QMPError))
        throw new Error(`untyped rejection: ${String(outcome.error)}`);
      return;
    }
    // Resolved: it must be this command's own reply (or the big string hugeReply puts in its place).
    const hugeBytes = huge.get(o.command);
    if (hugeBytes !== undefined && typeof outcome.value === "string") {
      expect(outcome.value.length).toBe(hugeBytes);
    } else if (o.command === "query-status") expect(outcome.value).toMatchObject({ status: "running" });
    else if (o.command === "no-such-command") throw new Error("an unknown command resolved");
    else expect(outcome.value).toEqual({ tag });
  });
  await Promise.all(runs);
}

/** Listener order is wire order, one for one; SEQ rises without gaps within a session; floods are prefixes. */
function checkEvents(attempts: Attempt[], floodCounts: ReadonlyMap<string, number>): void {
  let lastSeq = -1;
  for (const attempt of attempts) {
    if (attempt.established) expect(attempt.delivered.length).toBe(attempt.inbound.length);
    else expect(attempt.delivered.length).toBeLessThanOrEqual(attempt.inbound.length);
    attempt.delivered.forEach((event, i) => {
      // Identity, not equality: the very message read off the wire, at the same position.
      expect(event.data).toBe((attempt.inbound[i] as QMPEvent).data);
    });
    let sessionSeq: number | undefined;
    const floods = new Map<string, number>();
    for (const event of attempt.delivered) {
      if (event.event === "SEQ") {
        const seq = event.data.seq as number;
        expect(seq).toBeGreaterThan(lastSeq);
        if (sessionSeq !== undefined) expect(seq).toBe(sessionSeq + 1);
        sessionSeq = seq;
        lastSeq = seq;
      } else if (event.event.startsWith("FLOOD")) {
        // A flood with a trigger starts again each time its command is answered. Each flood (at most 400
        // events) is written in one piece, so a name's events are whole runs 0…count-1, only the last one cut.
        let expected = floods.get(event.event) ?? 0;
        if (expected === floodCounts.get(event.event) && event.data.n === 0) expected = 0;
        expect(event.data.n).toBe(expected);
        floods.set(event.event, expected + 1);
      }
    }
  }
}

async function runScenario(s: Scenario): Promise<void> {
  const fake = await startFake();
  const attempts: Attempt[] = [];
  let current: Attempt | undefined;
  const client = new QMPClient({
    greetingTimeoutMs: SESSION_TIMEOUT_MS,
    negotiationTimeoutMs: SESSION_TIMEOUT_MS,
    maxMessageBytes: s.maxMessageBytes,
    onInbound: (message: QMPMessage) => {
      if (typeof message.event === "string") current?.inbound.push(message as unknown as QMPEvent);
    },
  });
  using listener = client.listen({ highWaterMark: 10_000_000 });
  const begin = (): Attempt => {
    current = { established: false, inbound: [], delivered: [] };
    attempts.push(current);
    return current;
  };
  const end = async (attempt: Attempt): Promise<void> => {
    const closed = await settle(client.disconnect(), DISCONNECT_BOUND_MS, "disconnect");
    if (!closed.ok) expect(closed.error).toBeInstanceOf(QMPError);
    expect(client.runstate).toBe(Runstate.IDLE);
    expect(client.pendingCount).toBe(0);
    attempt.delivered = listener.clear();
  };
  try {
    s.faults.forEach((spec, i) => {
      fake.inject(makeFault(spec, i));
    });

    // The faulty session.
    const faulty = begin();
    const connected = await settle(
      client.connect(fake.address),
      SESSION_TIMEOUT_MS * 2 + SLACK_MS,
      "connect",
    );
    if (connected.ok) {
      faulty.established = true;
      let tag = 0;
      const huge = new Map<string, number>();
      for (const spec of s.faults) {
        // Each fault sees the original reply and the last one's writes win, so the last hugeReply counts.
        if (spec.kind === "hugeReply") huge.set(spec.command, Math.round((spec.kib / 1024) * 1024 * 1024));
      }
      for (const [index, batch] of s.batches.entries()) {
        const running = runBatch(client, batch, tag, huge);
        if (index === s.disconnectDuring) {
          const closed = await settle(client.disconnect(), DISCONNECT_BOUND_MS, "disconnect mid-batch");
          if (!closed.ok) expect(closed.error).toBeInstanceOf(QMPError);
          expect(client.runstate).toBe(Runstate.IDLE);
        }
        await running;
        tag += batch.length;
      }
    } else {
      expect(connected.error).toBeInstanceOf(QMPError);
      expect(client.runstate).toBe(Runstate.IDLE);
    }
    await end(faulty);

    // The same client object, the same fake, no faults now: everything works again.
    const clean = begin();
    await settle(
      client.connect(fake.address, { greetingTimeoutMs: SLACK_MS }),
      2 * SLACK_MS,
      "reconnect",
    ).then((outcome) => {
      if (!outcome.ok) throw outcome.error;
    });
    clean.established = true;
    const before = fake.seq.next;
    expect(await client.executeUntyped("emit", { tag: -1, events: 3 }, { timeoutMs: SLACK_MS })).toEqual({
      tag: -1,
    });
    expect(await client.executeUntyped("echo", { tag: -2 }, { timeoutMs: SLACK_MS })).toEqual({ tag: -2 });
    await end(clean);
    expect(clean.delivered.map((e) => e.data.seq)).toEqual([before, before + 1, before + 2]);
    const floodCounts = new Map<string, number>();
    s.faults.forEach((spec, i) => {
      if (spec.kind === "eventFlood") floodCounts.set(`FLOOD${i}`, spec.count);
    });
    checkEvents(attempts, floodCounts);
  } finally {
    await client.disconnect().catch(() => {});
    await fake.close();
  }
}

describe("client vs fake under random faults", () => {
  test(
    "every execute settles with its own reply or a typed error; events once, in wire order; IDLE after disconnect; the client reconnects",
    async () => {
      await fc.assert(fc.asyncProperty(scenario, runScenario), propertySettings(30, 100, BUDGET_MS));
    },
    propertyTimeout(BUDGET_MS),
  );
});
