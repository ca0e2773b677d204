/**
 * Commands waiting for their replies.
 *
 * Every command the client sends carries an id; its {@link Pending} sits in a Map under that id until the reply
 * with the same id arrives, so replies may come back in any order (OOB replies overtake in-band ones). At most
 * one id-less command (a raw message sent without an id) may be pending: its reply is the only one QEMU sends
 * without an id, apart from the parse errors that have no owner.
 *
 *   execute ──► table.add(p) ──► wire          reply(id) ──► table.take(id) ──► p.settle() ──► resolve/reject
 *                    │                                    timeout / abort ──► p.settle(), id remembered as
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
  /** The id sent with the command, or undefined for the one id-less raw command. */
  readonly id: string | undefined;
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

  constructor(table: PendingTable, id: string | undefined, message: SentCommand, mode: ReplyMode) {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.promise = promise;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#table = table;
    this.id = id;
    this.message = message;
    this.mode = mode;
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

function expire(pending: Pending, timeoutMs: number): void {
  pending.timedOut(timeoutMs);
}

/** The pending commands of one client, by id. */
export class PendingTable {
  readonly #byId = new Map<string, Pending>();
  #idless: Pending | undefined;
  /** Ids given up on (timeout, abort) whose replies may still come; dropped quietly. Cleared per session. */
  readonly #abandoned = new Set<string>();

  /** Commands in flight. */
  get size(): number {
    return this.#byId.size + (this.#idless === undefined ? 0 : 1);
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  get hasIdless(): boolean {
    return this.#idless !== undefined;
  }

  add(pending: Pending): void {
    if (pending.id === undefined) this.#idless = pending;
    else this.#byId.set(pending.id, pending);
  }

  /** Removes and returns the command waiting for `id` (undefined: the id-less one). */
  take(id: string | undefined): Pending | undefined {
    if (id === undefined) {
      const idless = this.#idless;
      this.#idless = undefined;
      return idless;
    }
    const pending = this.#byId.get(id);
    if (pending !== undefined) this.#byId.delete(id);
    return pending;
  }

  /** Forgets a command given up on, remembering its id so a late reply is recognised and dropped quietly. */
  abandon(pending: Pending): void {
    if (pending.id === undefined) {
      if (this.#idless === pending) this.#idless = undefined;
      return;
    }
    if (this.#byId.get(pending.id) === pending) {
      this.#byId.delete(pending.id);
      this.#abandoned.add(pending.id);
    }
  }

  /** True (once) when `id` belonged to an abandoned command. */
  forgetAbandoned(id: string): boolean {
    return this.#abandoned.delete(id);
  }

  /** Removes and returns every pending command, oldest first; forgets abandoned ids. */
  drain(): Pending[] {
    const all = [...this.#byId.values()];
    if (this.#idless !== undefined) all.push(this.#idless);
    this.#byId.clear();
    this.#idless = undefined;
    this.#abandoned.clear();
    return all;
  }
}
