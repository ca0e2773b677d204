/**
 * @qmpkit/testkit — a faithful, scriptable fake QEMU for tests, fault injection, transcripts, and a launcher for
 * the real QEMU.
 *
 * @example
 * import { createFakeQemu, faults } from "@qmpkit/testkit";
 * await using fake = await createFakeQemu({ faults: [faults.delay("query-status", 50)] });
 *
 * The fake guest agent and the qemu-ga launcher are at `@qmpkit/testkit/qga`.
 *
 * @module
 */

// Standalone server
export type { RunFakeCliOptions } from "./cli.ts";
export { FAKE_CLI_USAGE, runFakeCli } from "./cli.ts";
// Drop-in emulator: QEMU's command line on the fake
export type { EmulatorIO, RunEmulatorOptions } from "./emulator/run.ts";
export { runEmulator } from "./emulator/run.ts";
// Errors
export { FakeQemuError, QMPCommandError, SpawnQemuError, TranscriptError } from "./errors.ts";
// Fake QEMU
export type { CommandContext, CommandHandler } from "./fake-server.ts";
export { createFakeQemu, FakeQemu, QEMU_7_2_VERSION } from "./fake-server.ts";
export type { EventFloodOptions, GarbageWhen } from "./faults.ts";
export { faults } from "./faults.ts";
// Recorded machine profiles
export type { MachineName } from "./profiles/files.ts";
export { MACHINES, PROFILE_VERSIONS } from "./profiles/files.ts";
export { requestKey } from "./profiles/key.ts";
export type {
  ObjectTypeInfo,
  ProfileReply,
  ProfileSelector,
  QomNode,
  QomPropertyInfo,
} from "./profiles/profile.ts";
export { loadProfile, MachineProfile } from "./profiles/profile.ts";
export type { QemuRelease } from "./qemu-10.ts";
export {
  DEFAULT_QEMU10_BINARY,
  hasQemu10,
  qemu10Binary,
  requireQemu10,
  skipWithoutQemu10,
} from "./qemu-10.ts";
export { encodeQemuJson, RawJson } from "./qjson.ts";
export { replayTranscript } from "./replay/replay.ts";
// Real QEMU
export type { QemuProcess, SpawnQemuOptions } from "./spawn-qemu.ts";
export { DEFAULT_QEMU_ARGS, hasQemu, requireQemu, skipWithoutQemu, spawnQemu } from "./spawn-qemu.ts";
// Transcripts
export type { RecordTranscriptOptions, TranscriptEntry, TranscriptRecorder } from "./transcript.ts";
export { readTranscript, recordTranscript } from "./transcript.ts";
// Type Exports
export type {
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
export type { Guest } from "./vm/guest.ts";
export type { Migration } from "./vm/migration.ts";
