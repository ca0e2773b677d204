/**
 * The `node:fs` functions this package calls, each loading the module on its first call. Loading `node:fs` costs a
 * compiled binary ~1 ms of start-up, and most programs that import the client never touch a file: only a
 * listening socket's path (protocol.ts) and /proc lookups (unix-sockets.ts) do.
 *
 * `import.meta.require` inside a function stays where it is in `bun build`'s ESM output, so nothing is hoisted into
 * the importing module's start-up. It is spelled out, not `require`: the bundler rewrites a bare `require` to a
 * shared `__require` helper, which a compiled CLI may then load as a chunk of its own (apps/qmpkit chunks.test.ts).
 */
import type * as Fs from "node:fs";

let fs: typeof Fs | undefined;
const nodeFs = (): typeof Fs => (fs ??= import.meta.require("node:fs") as typeof Fs);

/** `fs[name]`, with its exact type, resolved when first called. */
function lazy<K extends keyof typeof Fs>(name: K): (typeof Fs)[K] {
  const call = (...args: unknown[]): unknown => (nodeFs()[name] as (...a: unknown[]) => unknown)(...args);
  return call as (typeof Fs)[K];
}

export const lstatSync = lazy("lstatSync");
export const readFileSync = lazy("readFileSync");
export const readlinkSync = lazy("readlinkSync");
export const rmSync = lazy("rmSync");
