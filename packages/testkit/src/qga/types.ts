/**
 * The fake guest agent's public types, below both the server (`fake-qga.ts`) and its built-in commands.
 */

/** Misbehaviour a {@link FakeQGA} can show, per the dirty channels real guest agents sit behind. */
export interface FakeQGAFaults {
  /** Bytes written before the 0xFF sentinel of every `guest-sync-delimited` reply (leftovers, non-UTF-8, half lines). */
  garbageBeforeSentinel?: string | Uint8Array;
  /** Before the right `guest-sync-delimited` reply, send a sentinel-prefixed reply carrying another id. */
  staleSyncReply?: boolean;
  /** Commands that are read and recorded but never answered (later commands still are). */
  neverAnswer?: readonly string[];
  /** Write every reply one byte at a time, each byte in its own write. */
  splitReplies?: boolean;
}

/** Returned by a handler (as `ctx.noReply`) to send no reply at all. */
export const NO_REPLY: unique symbol = Symbol("qmpkit.fakeQGA.noReply");

/** What a {@link FakeQGAHandler} gets beside the command's arguments. */
export interface FakeQGAContext {
  /** Which client sent the command (1, 2, … in accept order). */
  readonly client: number;
  /** The command's name. */
  readonly command: string;
  /** The `id` the client sent with the command, if any (qemu-ga echoes it). */
  readonly id: unknown;
  /** Return this to send no reply. */
  readonly noReply: typeof NO_REPLY;
  /** Writes raw bytes to this client now, ahead of the reply; resolves once written. */
  sendRaw(data: string | Uint8Array): Promise<void>;
  /** Closes this client's connection (after what was already written). */
  disconnect(): void;
}

/** Implements one command of a fake agent; see `FakeQGA.handle`. */
export type FakeQGAHandler = (args: Record<string, unknown>, ctx: FakeQGAContext) => unknown;
