/**
 * @qmpkit/qmp — a QMP client for QEMU: connect, negotiate, execute typed commands, receive events.
 *
 * @example
 * import { connect } from "@qmpkit/qmp";
 * await using client = await connect("/tmp/qmp.sock");
 * const { status } = await client.execute("query-status");
 *
 * @module
 */

export type { Logger, SocketAddress } from "@qmpkit/protocol-core";
export {
  BackpressureError,
  ConnectError,
  ConnectionClosedError,
  FrameTooLargeError,
  ListenerBusyError,
  ProtocolError,
  QMPError,
  Runstate,
  StateError,
  TimeoutError,
} from "@qmpkit/protocol-core";
// Client
export { connect, QMPClient } from "./client.ts";
export { RESERVED_ID_PREFIX } from "./dispatch.ts";
export type { ErrorBody, SentCommand } from "./errors.ts";
// Errors (protocol-core's are re-exported so one import is enough)
export {
  BadReplyError,
  EventOverflowError,
  ExecInterruptedError,
  ExecuteError,
  GreetingError,
  ListenerClosedError,
  NegotiationError,
  QMPValidationError,
  ServerParseError,
  UsageError,
} from "./errors.ts";
export type { GetOptions, ListenOptions, OverflowPolicy } from "./events.ts";
// Events
export { DEFAULT_HIGH_WATER_MARK, EventListener } from "./events.ts";
export { FdPassingError } from "./fd-passing.ts";
// Messages
export type {
  CommandMessage,
  ErrorResponse,
  EventLike,
  Greeting,
  QemuVersion,
  QmpEvent,
  QmpMessage,
  QmpTimestamp,
  Reply,
  SuccessResponse,
} from "./messages.ts";
export type {
  ConnectFunctionOptions,
  ExecuteOptions,
  QMPAcceptOptions,
  QMPClientOptions,
  QMPConnectOptions,
  RetryOptions,
  SessionOptions,
  WaitForEventOptions,
} from "./options.ts";
export { DEFAULT_GREETING_TIMEOUT_MS, DEFAULT_NEGOTIATION_TIMEOUT_MS } from "./options.ts";
// Typed API (QAPI)
export type { EntriesDiff, EntryDiff, SchemaChange, SchemaChangeKind, SchemaDiff } from "./qapi/diff.ts";
export { describeChange, diffSchemas, formatSchemaDiff } from "./qapi/diff.ts";
export type { GenerateOptions } from "./qapi/generate.ts";
export { generateTypes } from "./qapi/generate.ts";
export type { Commands as Qemu72Commands, Events as Qemu72Events } from "./qapi/qemu-7.2.ts";
export type { SchemaEntry, SchemaIndex, TypeEntry } from "./qapi/schema.ts";
export {
  enumValues,
  indexSchema,
  isOptional,
  lookupType,
  OPEN_ARGUMENT_COMMANDS,
  parseSchema,
  QAPISchemaError,
} from "./qapi/schema.ts";
export type {
  ArgsOf,
  CommandMapOf,
  CommandSpec,
  EventTimestamp,
  ExecuteParams,
  ReturnOf,
  TypedEvent,
} from "./qapi/typed.ts";
export type { ValidationProblem, ValidationProblemKind } from "./qapi/validate.ts";
export { formatValidationProblems, validateArguments, validateValue } from "./qapi/validate.ts";
// QGA: the QEMU guest agent client (see QGA.md)
export type { QGAClientOptions } from "./qga/channel.ts";
export { QGA_NO_REPLY_COMMANDS } from "./qga/channel.ts";
export { QGAClient } from "./qga/client.ts";
export {
  QGAError,
  QGAExecTimeoutError,
  QGAInterruptedError,
  QGASyncError,
  QGATimeoutError,
  QGAVsockUnsupportedError,
} from "./qga/errors.ts";
export type { QGAExecOptions } from "./qga/exec.ts";
export type { QGAFileReadOptions, QGAFileWriteOptions } from "./qga/file.ts";
export type { QGACommandOptions } from "./qga/queue.ts";
export type {
  GuestAgentCommandInfo,
  GuestAgentInfo,
  GuestExecStatus,
  GuestFsfreezeStatus,
  GuestIpAddress,
  GuestNetworkInterface,
  GuestNetworkInterfaceStat,
  GuestOSInfo,
  QGAExecResult,
} from "./qga/types.ts";
export type { QGAMessage } from "./qga/wire.ts";
