export type { ResolvedAddress, SocketAddress, TlsSetting } from "./address.ts";
export { formatAddress, resolveAddress } from "./address.ts";
export type { DeadlineOptions } from "./cancel.ts";
export { Deadline, raceAbort, settlesWithin, sleep } from "./cancel.ts";
export type { QMPErrorOptions } from "./errors.ts";
export {
  BackpressureError,
  ConnectError,
  ConnectionClosedError,
  FrameTooLargeError,
  ListenerBusyError,
  ProtocolError,
  QMPError,
  StateError,
  summarizeError,
  TimeoutError,
} from "./errors.ts";
export type { LineDecoderOptions } from "./framing.ts";
export { DEFAULT_MAX_MESSAGE_BYTES, LineDecoder } from "./framing.ts";
export type { InProcessListener, InProcessListenOptions } from "./in-process.ts";
export { connectInProcess, listenInProcess } from "./in-process.ts";
export type { Logger } from "./logger.ts";
export { createLogger, silentLogger } from "./logger.ts";
export type { ConnectOptions, ProtocolOptions } from "./protocol.ts";
export { AsyncProtocol, DEFAULT_MAX_BUFFERED_WRITE_BYTES } from "./protocol.ts";
export { RUNSTATE_TRANSITIONS, Runstate } from "./runstate.ts";
export { socketInode, unixSocketPaths } from "./unix-sockets.ts";
export type { SocketWriterOptions } from "./writer.ts";
export { SocketWriter } from "./writer.ts";
