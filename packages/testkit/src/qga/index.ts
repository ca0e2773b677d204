/**
 * @qmpkit/testkit/qga — a fake QEMU guest agent for tests (scriptable commands, faults, a call log) and a
 * launcher for the real qemu-ga.
 *
 * @example
 * import { createFakeQGA } from "@qmpkit/testkit/qga";
 * await using agent = await createFakeQGA();
 *
 * @module
 */

export { QemuGaSpawnError } from "./errors.ts";
export type { FakeQGA, FakeQGACall, FakeQGAFaults, FakeQGAOptions } from "./fake-qga.ts";
export { createFakeQGA } from "./fake-qga.ts";
export type { QemuGaProcess, SpawnQemuGaOptions } from "./spawn-qemu-ga.ts";
export {
  DEFAULT_QEMU_GA_BINARY,
  hasQemuGa,
  requireQemuGa,
  skipWithoutQemuGa,
  spawnQemuGa,
} from "./spawn-qemu-ga.ts";
export type { FakeQGAContext, FakeQGAHandler } from "./types.ts";
