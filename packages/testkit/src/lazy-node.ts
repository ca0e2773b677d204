/**
 * The `node:fs`, `node:os` and `node:path` functions the fake QEMU calls, each loading its module on its first
 * call. A compiled binary that imports `@qmpkit/testkit/fake` paid ~1.4 ms of start-up for those three modules
 * (node:fs ~1.1 of it), though the fake reaches the file system only when a test asks it to: a socket in a temp
 * dir, a disk image, a dump, a secret's file.
 *
 * `require` inside a function stays where it is in `bun build`'s ESM output (it becomes `import.meta.require`
 * at the call), so nothing is hoisted into the importing module's start-up.
 */
import type * as Fs from "node:fs";
import type * as Os from "node:os";
import type * as Path from "node:path";

let fs: typeof Fs | undefined;
let os: typeof Os | undefined;
let path: typeof Path | undefined;

/** `module()[name]`, with its exact type, resolved when first called. */
function lazy<M, K extends keyof M>(module: () => M, name: K): M[K] {
  const call = (...args: unknown[]): unknown => (module()[name] as (...a: unknown[]) => unknown)(...args);
  return call as M[K];
}

const nodeFs = (): typeof Fs => (fs ??= require("node:fs") as typeof Fs);
const nodeOs = (): typeof Os => (os ??= require("node:os") as typeof Os);
const nodePath = (): typeof Path => (path ??= require("node:path") as typeof Path);

export const chmodSync = lazy(nodeFs, "chmodSync");
export const closeSync = lazy(nodeFs, "closeSync");
export const existsSync = lazy(nodeFs, "existsSync");
export const fstatSync = lazy(nodeFs, "fstatSync");
export const lstatSync = lazy(nodeFs, "lstatSync");
export const mkdtempSync = lazy(nodeFs, "mkdtempSync");
export const openSync = lazy(nodeFs, "openSync");
export const readFileSync = lazy(nodeFs, "readFileSync");
export const readSync = lazy(nodeFs, "readSync");
export const rmSync = lazy(nodeFs, "rmSync");
export const statSync = lazy(nodeFs, "statSync");
export const truncateSync = lazy(nodeFs, "truncateSync");
export const unlinkSync = lazy(nodeFs, "unlinkSync");
export const writeFileSync = lazy(nodeFs, "writeFileSync");
export const writeSync = lazy(nodeFs, "writeSync");

export const tmpdir = lazy(nodeOs, "tmpdir");

export const dirname = lazy(nodePath, "dirname");
export const isAbsolute = lazy(nodePath, "isAbsolute");
export const join = lazy(nodePath, "join");
