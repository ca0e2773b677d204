/**
 * Commands waiting for their replies.
 *
 * A command sent with an id waits under that id until the reply with the same id arrives, so replies may come back
 * in any order (OOB replies overtake in-band ones). At most one command is sent without an id: QEMU answers
 * in-band commands in order and puts the request's id (or none) in the reply, so the only id-less reply it sends
 * (apart from parse errors, which have no owner) answers that one. Its slot stays taken after it is abandoned,
 * until its late reply arrives, so that reply is never given to a later command.
 *
 *   execute ──► table.add(p) ──► wire          reply(id?) ──► table.take(id) ──► p.settle() ──► resolve/reject
 *                    │                                    timeout / abort ──► p.settle(), p remembered as
 *                    └── session end ──► drain() ──► every p rejects      abandoned, late reply dropped quietly
 *
 * @module
 */

import { TimeoutError } from "@qmpkit/protocol-core";
import type { SentCommand } from "./errors.ts";

/** How a reply is handed back: the `return` value (errors thrown), or the whole reply object. */
export type ReplyMode = "value" | "raw";

/** One command awaiting its reply. Owns its timer and abort listener; {@link settle} releases both. */
export class Pending {
  /** The id sent with the command: the caller's (a string) or the generated one (= seq); undefined for none. */
  readonly id: string | number | undefined;
  /** The client's number for this command, which is its generated id when it has one; -1 for a caller's id. */
  readonly seq: number;
  /** Sent with `execute` (answered in order), not `exec-oob`. */
  readonly inband: boolean;
  /** The id was the client's, not in the caller's raw message: take it off the reply handed back. */
  stripId = false;
  /** The message as sent (used for errors; never mutated). */
  readonly message: SentCommand;
  readonly mode: ReplyMode;
  readonly promise: Promise<unknown>;
  readonly #resolve: (value: unknown) => void;
  readonly #reject: (reason: unknown) => void;
  readonly #table: PendingTable;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal: AbortSignal | undefined;
  #settled = false;

  constructor(
    table: PendingTable,
    id: string | number | undefined,
    seq: number,
    message: SentCommand,
    mode: ReplyMode,
  ) {
    this.promise = new Promise(capture);
    this.#resolve = captured.resolve;
    this.#reject = captured.reject;
    this.#table = table;
    this.id = id;
    this.seq = seq;
    this.message = message;
    this.mode = mode;
    this.inband = message["exec-oob"] === undefined;
  }

  /** How logs name this command: `"query-status" (#7)`, `(#7, sent without id)`, or `(my-id)` for a caller's. */
  get label(): string {
    const tag =
      this.id === undefined
        ? `#${this.seq}, sent without id`
        : typeof this.id === "number"
          ? `#${this.id}`
          : this.id;
    return `${JSON.stringify(this.command)} (${tag})`;
  }

  /** The command's name, for messages. */
  get command(): string {
    return this.message.execute ?? this.message["exec-oob"] ?? "(unnamed)";
  }

  /** Starts the reply timer. The timer and the abort listener use `this`, not per-command closures. */
  arm(timeoutMs: number | undefined, signal: AbortSignal | undefined): void {
    if (timeoutMs !== undefined) this.#timer = setTimeout(expire, timeoutMs, this, timeoutMs);
    if (signal !== undefined) {
      this.#signal = signal;
      signal.addEventListener("abort", this);
    }
  }

  /** Resolves the caller's promise (once) and releases the timer and abort listener. */
  resolve(value: unknown): void {
    if (this.#release()) this.#resolve(value);
  }

  /** Rejects the caller's promise (once) and releases the timer and abort listener. */
  reject(reason: unknown): void {
    if (this.#release()) this.#reject(reason);
  }

  /** The abort listener (an EventListener object, so no closure is allocated per command). */
  handleEvent(): void {
    const reason = this.#signal?.reason;
    this.#table.abandon(this);
    this.reject(reason);
  }

  /** Timer callback. */
  timedOut(timeoutMs: number): void {
    this.#table.abandon(this);
    this.reject(new TimeoutError(`Command "${this.command}" got no reply within ${timeoutMs} ms`));
  }

  #release(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#signal?.removeEventListener("abort", this);
    this.#signal = undefined;
    return true;
  }
}

// One shared executor instead of a closure (or a withResolvers record) per command: the Promise constructor
// calls it synchronously, so the resolvers are read back right after, before anything else can run.
const captured: { resolve: (value: unknown) => void; reject: (reason: unknown) => void } = {
  resolve: () => {},
  reject: () => {},
};
function capture(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

function expire(pending: Pending, timeoutMs: number): void {
  pending.timedOut(timeoutMs);
}

/**
 * The pending commands of one client, by id. Generated ids (numbers: the command's seq) are kept in a
 * {@link SeqSlots} window (an array, not a Map: with 100,000 commands in flight, Map insertions, lookups and
 * deletions cost several times an array slot), caller-chosen ids by string in a Map.
 */
export class PendingTable {
  readonly #bySeq = new SeqSlots();
  readonly #byCallerId = new Map<string, Pending>();
  #idless: Pending | undefined;
  /** The id-less command given up on whose reply is still due: the next id-less reply is its, dropped. */
  #idlessAbandoned: Pending | undefined;
  /** Commands given up on (timeout, abort) whose replies may still come, by id; dropped quietly. Per session. */
  readonly #abandoned = new Map<string | number, Pending>();
  /** In-band commands whose replies QEMU still owes: the pending ones and the abandoned ones not yet answered. */
  #inbandDue = 0;

  /** Commands in flight. */
  get size(): number {
    return this.#bySeq.size + this.#byCallerId.size + (this.#idless === undefined ? 0 : 1);
  }

  /** In-band replies still due, counting those of abandoned commands. */
  get inbandDue(): number {
    return this.#inbandDue;
  }

  /** True when a caller-chosen id is in flight. */
  has(id: string): boolean {
    return this.#byCallerId.has(id);
  }

  /** True while an id-less command's reply is due (pending or abandoned): no other may go without an id. */
  get idlessBusy(): boolean {
    return this.#idless !== undefined || this.#idlessAbandoned !== undefined;
  }

  add(pending: Pending): void {
    if (pending.inband) this.#inbandDue++;
    if (pending.id === undefined) this.#idless = pending;
    else if (typeof pending.id === "number") this.#bySeq.set(pending.id, pending);
    else this.#byCallerId.set(pending.id, pending);
  }

  /** Removes and returns the command waiting for `id` (undefined: the id-less one). */
  take(id: string | number | undefined): Pending | undefined {
    const pending = this.#find(id);
    if (pending?.inband) this.#inbandDue--;
    return pending;
  }

  #find(id: string | number | undefined): Pending | undefined {
    if (id === undefined) {
      const idless = this.#idless;
      this.#idless = undefined;
      return idless;
    }
    if (typeof id === "number") {
      // A number that was never a seq (0, -1, 1.5, 1e300) finds no slot: SeqSlots holds integers only.
      const pending = this.#bySeq.get(id);
      if (pending !== undefined) this.#bySeq.delete(id);
      return pending;
    }
    const pending = this.#byCallerId.get(id);
    if (pending !== undefined) this.#byCallerId.delete(id);
    return pending;
  }

  /** Forgets a command given up on, remembering it so its late reply is recognised and dropped quietly. */
  abandon(pending: Pending): void {
    if (pending.id === undefined) {
      if (this.#idless !== pending) return;
      this.#idless = undefined;
      this.#idlessAbandoned = pending;
      return;
    }
    if (typeof pending.id === "number") {
      if (this.#bySeq.get(pending.id) !== pending) return;
      this.#bySeq.delete(pending.id);
    } else {
      if (this.#byCallerId.get(pending.id) !== pending) return;
      this.#byCallerId.delete(pending.id);
    }
    this.#abandoned.set(pending.id, pending);
  }

  /** The abandoned command whose late reply this is (once), or undefined; `id` undefined: the id-less one. */
  forgetAbandoned(id: string | number | undefined): Pending | undefined {
    let pending: Pending | undefined;
    if (id === undefined) {
      pending = this.#idlessAbandoned;
      this.#idlessAbandoned = undefined;
    } else {
      pending = this.#abandoned.get(id);
      if (pending !== undefined) this.#abandoned.delete(id);
    }
    if (pending?.inband) this.#inbandDue--;
    return pending;
  }

  /** Removes and returns every pending command; forgets abandoned ones (a new session owes them nothing). */
  drain(): Pending[] {
    // Built by hand, not spread: a one-shot CLI ends every session here, and the first spread of a Map iterator
    // costs a compiled binary ~0.05 ms of builtin set-up.
    const all = this.#bySeq.size === 0 ? [] : this.#bySeq.values();
    if (this.#byCallerId.size > 0) for (const pending of this.#byCallerId.values()) all.push(pending);
    if (this.#idless !== undefined) all.push(this.#idless);
    this.#bySeq.clear();
    this.#byCallerId.clear();
    this.#idless = undefined;
    this.#idlessAbandoned = undefined;
    this.#abandoned.clear();
    this.#inbandDue = 0;
    return all;
  }
}

/** Slots a window may hold beyond the live commands before it is rebuilt (bounds memory, see {@link SeqSlots}). */
const WINDOW_SLACK = 4096;

/**
 * Pending commands by sequence number. Generated ids are handed out in increasing order and mostly answered in
 * order, so most commands sit in an array window indexed by `seq - base`:
 *
 *   slots   [ ∅ ∅ ∅ | p7 ∅ p9 p10 … ]     ∅: answered, abandoned, or a number never sent (negotiation ids)
 *                   ^ head: every slot before it is empty; dropped in batches
 *   overflow  Map<seq, Pending>: the few that do not fit the window (added below its head, far past its end, or
 *             moved out when a long-pending command held the head while thousands of later ones completed)
 *
 * The window never holds more than `WINDOW_SLACK` slots beyond eight per live command, so one command that never
 * gets a reply costs a Map entry, not an ever-growing array.
 */
class SeqSlots {
  #slots: (Pending | undefined)[] = [];
  /** Index of the first slot that may be occupied. */
  #head = 0;
  /** The sequence number of `#slots[0]`. */
  #base = 0;
  #live = 0;
  readonly #overflow = new Map<number, Pending>();

  get size(): number {
    return this.#live + this.#overflow.size;
  }

  set(seq: number, pending: Pending): void {
    if (this.#live === 0) {
      this.#slots.length = 0;
      this.#head = 0;
      this.#base = seq;
    }
    const index = seq - this.#base;
    if (index < this.#head || index > this.#slots.length + WINDOW_SLACK) {
      this.#overflow.set(seq, pending);
      return;
    }
    while (this.#slots.length < index) this.#slots.push(undefined);
    this.#slots[index] = pending;
    this.#live++;
  }

  get(seq: number): Pending | undefined {
    const index = seq - this.#base;
    const slotted = index >= this.#head && index < this.#slots.length ? this.#slots[index] : undefined;
    if (slotted !== undefined || this.#overflow.size === 0) return slotted;
    return this.#overflow.get(seq);
  }

  delete(seq: number): void {
    const index = seq - this.#base;
    if (index < this.#head || index >= this.#slots.length || this.#slots[index] === undefined) {
      this.#overflow.delete(seq);
      return;
    }
    const slots = this.#slots;
    slots[index] = undefined;
    this.#live--;
    if (this.#live === 0) {
      slots.length = 0;
      this.#head = 0;
      return;
    }
    let head = this.#head;
    while (slots[head] === undefined) head++;
    this.#head = head;
    const span = slots.length - head;
    if (span > WINDOW_SLACK && span > 8 * this.#live) {
      // Mostly holes behind a command that is still pending: move the live ones out and start a fresh window.
      for (let i = head; i < slots.length; i++) {
        const pending = slots[i];
        if (pending !== undefined) this.#overflow.set(this.#base + i, pending);
      }
      this.#live = 0;
      slots.length = 0;
      this.#head = 0;
    } else if (head > WINDOW_SLACK && 2 * head > slots.length) {
      // Drop the empty prefix; copying at most the live half keeps this amortised O(1).
      slots.copyWithin(0, head);
      slots.length -= head;
      this.#base += head;
      this.#head = 0;
    }
  }

  /** Every pending command: the window in sequence order, then the overflow in insertion order. */
  values(): Pending[] {
    const all: Pending[] = [];
    for (let i = this.#head; i < this.#slots.length; i++) {
      const pending = this.#slots[i];
      if (pending !== undefined) all.push(pending);
    }
    for (const pending of this.#overflow.values()) all.push(pending);
    return all;
  }

  clear(): void {
    this.#slots.length = 0;
    this.#head = 0;
    this.#live = 0;
    this.#overflow.clear();
  }
}
