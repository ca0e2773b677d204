/**
 * PendingTable keeps generated ids in an array window (SeqSlots) for speed; these tests hold it to the semantics of
 * the plain Map it replaced: whatever the order of adds, takes and abandons, a take returns exactly the command
 * sent with that id, once, and drain returns every command still pending.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Pending, PendingTable } from "../src/pending.ts";

function pendingFor(table: PendingTable, seq: number): Pending {
  const p = new Pending(table, seq, seq, { execute: "query-status" }, "value");
  p.promise.catch(() => {});
  return p;
}

type Op =
  | { kind: "add"; gap: number; back: number }
  | { kind: "take"; pick: number }
  | { kind: "takeUnknown"; seq: number }
  | { kind: "abandon"; pick: number }
  | { kind: "drain" };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("add" as const), gap: fc.nat(3), back: fc.nat(2) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("take" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("takeUnknown" as const), seq: fc.nat(100_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("abandon" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("drain" as const) }) },
);

describe("PendingTable", () => {
  test("behaves like a Map from id to command under any sequence of operations", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const table = new PendingTable();
        const model = new Map<number, Pending>();
        let next = 0;
        /** Seqs handed out but not yet added: added later, out of order (a command waiting for validation). */
        const held: number[] = [];
        for (const o of ops) {
          switch (o.kind) {
            case "add": {
              next += o.gap; // ids consumed without a pending entry (negotiation, failed sends)
              let seq = next++;
              if (o.back > 0) {
                held.push(seq);
                if (held.length < 2) break;
                seq = held.shift() as number;
              }
              const p = pendingFor(table, seq);
              table.add(p);
              model.set(seq, p);
              break;
            }
            case "take": {
              const keys = [...model.keys()];
              if (keys.length === 0) break;
              const seq = keys[o.pick % keys.length] as number;
              expect(table.take(seq)).toBe(model.get(seq) as Pending);
              model.delete(seq);
              expect(table.take(seq)).toBeUndefined();
              break;
            }
            case "takeUnknown":
              if (!model.has(o.seq)) expect(table.take(o.seq)).toBeUndefined();
              break;
            case "abandon": {
              const keys = [...model.keys()];
              if (keys.length === 0) break;
              const seq = keys[o.pick % keys.length] as number;
              table.abandon(model.get(seq) as Pending);
              model.delete(seq);
              expect(table.take(seq)).toBeUndefined();
              expect(table.forgetAbandoned(seq)).toBeDefined();
              break;
            }
            case "drain": {
              const drained = table.drain();
              expect(new Set(drained)).toEqual(new Set(model.values()));
              expect(drained.length).toBe(model.size);
              model.clear();
              break;
            }
          }
          expect(table.size).toBe(model.size);
        }
        expect(new Set(table.drain())).toEqual(new Set(model.values()));
      }),
      { numRuns: 300 },
    );
  });

  test("a command still pending while 50,000 later ones complete is matched when its reply comes", () => {
    const table = new PendingTable();
    const hung = pendingFor(table, 0);
    table.add(hung);
    for (let seq = 1; seq <= 50_000; seq++) {
      const p = pendingFor(table, seq);
      table.add(p);
      expect(table.take(seq)).toBe(p);
    }
    expect(table.size).toBe(1);
    expect(table.take(0)).toBe(hung);
    expect(table.size).toBe(0);
  });

  test("100,000 in flight are matched in any reply order", () => {
    const table = new PendingTable();
    const all = Array.from({ length: 100_000 }, (_, seq) => pendingFor(table, seq));
    for (const p of all) table.add(p);
    // Odd seqs first, then even ones backwards: neither sent order nor its reverse.
    const order = [...all.keys()].filter((s) => s % 2 === 1);
    for (let s = all.length - 2; s >= 0; s -= 2) order.push(s);
    for (const seq of order) expect(table.take(seq)).toBe(all[seq] as Pending);
    expect(table.size).toBe(0);
  });

  test("a sliding window of 5,000 in flight, answered out of order within the window, over 200,000 commands", () => {
    const table = new PendingTable();
    const all: Pending[] = [];
    /** Seqs in flight, oldest first. */
    const live: number[] = [];
    let state = 12345;
    const random = (n: number): number => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    for (let seq = 0; seq < 200_000; seq++) {
      all.push(pendingFor(table, seq));
      table.add(all[seq] as Pending);
      live.push(seq);
      if (live.length > 5000) {
        // Answer one of the 100 oldest: mostly in order, never exactly.
        const [pick] = live.splice(random(100), 1) as [number];
        expect(table.take(pick)).toBe(all[pick] as Pending);
      }
    }
    expect(table.size).toBe(live.length);
    for (const seq of live) expect(table.take(seq)).toBe(all[seq] as Pending);
    expect(table.size).toBe(0);
  });

  test("only the generated id itself matches: not its text, a fraction or negation of it, nor a caller's id", () => {
    const table = new PendingTable();
    const p = pendingFor(table, 7);
    table.add(p);
    for (const lookalike of ["7", "@7", "007", 7.5, -7, 0]) expect(table.take(lookalike)).toBeUndefined();
    expect(table.take(7)).toBe(p);
  });
});
