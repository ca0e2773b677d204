/**
 * @qmpkit/qmp/qga — a client for the QEMU guest agent (qemu-ga): sync handshake, typed guest commands, `exec`
 * with output, file transfer. See QGA.md.
 *
 * @example
 * import { QGAClient } from "@qmpkit/qmp/qga";
 * await using qga = new QGAClient();
 * await qga.connect("/tmp/qga.sock");
 *
 * @module
 */

export type { QGAClientOptions } from "./channel.ts";
export { QGA_NO_REPLY_COMMANDS } from "./channel.ts";
export { QGAClient } from "./client.ts";
export {
  QGAError,
  QGAExecTimeoutError,
  QGAInterruptedError,
  QGASyncError,
  QGATimeoutError,
  QGAVsockUnsupportedError,
} from "./errors.ts";
export type { QGAExecOptions } from "./exec.ts";
export type { QGAFileReadOptions, QGAFileWriteOptions } from "./file.ts";
export type { QGACommandOptions } from "./queue.ts";
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
} from "./types.ts";
export type { QGAMessage } from "./wire.ts";
