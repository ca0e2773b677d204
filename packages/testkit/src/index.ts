export { FakeQemuError, QmpCommandError, SpawnQemuError, TranscriptError } from "./errors.ts";
export { createFakeQemu, FakeQemu, QEMU_7_2_VERSION } from "./fake-server.ts";
export { encodeQemuJson, RawJson } from "./qjson.ts";
export type { SchemaEntry } from "./schema-args.ts";
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
