/**
 * @qmpkit/testkit — a faithful, scriptable fake QEMU for tests, fault injection, transcripts, and a launcher for
 * the real QEMU.
 *
 * @example
 * import { createFakeQemu, faults } from "@qmpkit/testkit";
 * await using fake = await createFakeQemu({ faults: [faults.delay("query-status", 50)] });
 *
 * @module
 */

// Errors
export { FakeQemuError, QmpCommandError, SpawnQemuError, TranscriptError } from "./errors.ts";
// Fake QEMU
export { createFakeQemu, FakeQemu, QEMU_7_2_VERSION } from "./fake-server.ts";
export type { EventFloodOptions, GarbageWhen } from "./faults.ts";
export { faults } from "./faults.ts";
export { encodeQemuJson, RawJson } from "./qjson.ts";
export type { SchemaEntry } from "./schema-args.ts";
// Real QEMU
export type { QemuProcess, SpawnQemuOptions } from "./spawn-qemu.ts";
export { DEFAULT_QEMU_ARGS, hasQemu, requireQemu, skipWithoutQemu, spawnQemu } from "./spawn-qemu.ts";
// Type Exports
export type {
  CommandContext,
  CommandHandler,
  FakeClientInfo,
  FakeError,
  FakeQemuOptions,
  Fault,
  FaultConnection,
  FaultReply,
  FaultReplyAction,
  HandleOptions,
  JsonObject,
  ReceivedMessage,
} from "./types.ts";
