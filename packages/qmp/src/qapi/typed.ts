/**
 * Helper types that make a client generic over a generated `Commands`/`Events` pair (see `qemu-7.2.ts`), so a
 * user can plug in the file they generated for their own QEMU.
 *
 * @module
 */

/** What each entry of a generated `Commands` interface looks like. */
export interface CommandSpec {
  readonly args: unknown;
  readonly returns: unknown;
}

/**
 * Constraint for a `Commands` map. Written as a mapped type rather than `Record<string, CommandSpec>` because
 * generated maps are interfaces, and interfaces have no implicit index signature.
 */
export type CommandMapOf<C> = { readonly [K in keyof C]: CommandSpec };

/** The arguments object of command `K`. */
export type ArgsOf<C extends CommandMapOf<C>, K extends keyof C> = C[K]["args"];

/** The `return` value of command `K`. */
export type ReturnOf<C extends CommandMapOf<C>, K extends keyof C> = C[K]["returns"];

/**
 * The parameters after the command name: the arguments may be left out when every member is optional (or the
 * command takes none), and must be given otherwise. `O` is the client's per-call options type.
 *
 * @example
 * declare function execute<K extends keyof Commands>(
 *   command: K,
 *   ...params: ExecuteParams<Commands[K]["args"], { timeoutMs?: number }>
 * ): Promise<Commands[K]["returns"]>;
 * execute("query-status"); // ok, no arguments
 * execute("blockdev-del", { "node-name": "disk0" }); // arguments required
 */
// biome-ignore lint/complexity/noBannedTypes: `{}` is exactly "an object with no required member" here.
export type ExecuteParams<A, O = never> = {} extends A ? [args?: A, options?: O] : [args: A, options?: O];

/** The wall-clock time QEMU stamps on an event. */
export interface EventTimestamp {
  readonly seconds: number;
  readonly microseconds: number;
}

/**
 * A received event with `data` typed by its name; a union over `K`, so `switch (ev.event)` narrows `data`.
 * QEMU leaves `data` out for events that carry none; a client should hand those out with `data: {}`.
 */
export type TypedEvent<E, K extends keyof E & string = keyof E & string> = {
  [N in K]: { readonly event: N; readonly data: E[N]; readonly timestamp: EventTimestamp };
}[K];
