/**
 * @qmpkit/qmp — a QMP client for QEMU: connect, negotiate, execute typed commands, receive events.
 *
 * @example
 * import { connect } from "@qmpkit/qmp";
 * await using client = await connect("/tmp/qmp.sock");
 * const { status } = await client.execute("query-status");
 *
 * The guest-agent client is at `@qmpkit/qmp/qga`; the code generator, schema model and validator at
 * `@qmpkit/qmp/qapi`; QEMU's types per release at `@qmpkit/qmp/qapi/qemu-7.2` and `@qmpkit/qmp/qapi/qemu-10.0`.
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
  QMPEvent,
  QMPMessage,
  QMPTimestamp,
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
// Typed commands and events
export type {
  ArgsOf,
  CommandMapOf,
  CommandSpec,
  EventTimestamp,
  ExecuteParams,
  ReturnOf,
  TypedEvent,
} from "./qapi/typed.ts";
