import { ProtocolError } from "@qmpkit/protocol-core";
import { QGAChannel } from "./channel.ts";
import { type QGAExecOptions, runExec } from "./exec.ts";
import { type QGAFileReadOptions, type QGAFileWriteOptions, readGuestFile, writeGuestFile } from "./file.ts";
import type { QGACommandOptions } from "./queue.ts";
import type {
  GuestAgentInfo,
  GuestFsfreezeStatus,
  GuestNetworkInterface,
  GuestOSInfo,
  QGAExecResult,
} from "./types.ts";
import { parseExactReturn } from "./wire.ts";

/**
 * A client for the QEMU guest agent (qemu-ga), on protocol-core's {@link AsyncProtocol}.
 *
 * Connect to the host side of the agent's channel: the unix socket of a virtio-serial chardev
 * (`-chardev socket,path=…,server=on,wait=off -device virtserialport,chardev=…,name=org.qemu.guest_agent.0`) or
 * the socket of `qemu-ga -m unix-listen`. TCP chardevs work too (`tcp:HOST:PORT`); vsock does not (Bun has no
 * AF_VSOCK).
 *
 * Commands run one at a time, in call order; each has a timeout (`commandTimeoutMs`, 30 s by default) and may take
 * an AbortSignal. After a timeout or an abort the agent may still answer, so the next command first
 * resynchronises with `guest-sync-delimited`. When the session ends, every queued and running command rejects
 * with {@link QGAInterruptedError}.
 *
 * @example
 * await using qga = new QGAClient();
 * await qga.connect("/run/vm1/qga.sock");
 * const { exitcode, stdout } = await qga.exec("/bin/echo", ["hello"]);
 * console.log(exitcode, stdout); // 0 "hello\n"
 */
export class QGAClient extends QGAChannel {
  /** `guest-ping`: resolves when the agent answers. */
  async ping(options?: QGACommandOptions): Promise<void> {
    await this.executeUntyped("guest-ping", undefined, options);
  }

  /** `guest-info`: the agent's version and the commands it supports. */
  async info(options?: QGACommandOptions): Promise<GuestAgentInfo> {
    return (await this.executeUntyped("guest-info", undefined, options)) as GuestAgentInfo;
  }

  /** `guest-get-osinfo`: the guest's kernel (uname) and distribution (os-release). */
  async osinfo(options?: QGACommandOptions): Promise<GuestOSInfo> {
    return (await this.executeUntyped("guest-get-osinfo", undefined, options)) as GuestOSInfo;
  }

  /**
   * `guest-get-time`: the guest's clock in nanoseconds since the Unix epoch, exact (a JavaScript number would
   * round it to the nearest 256 ns).
   *
   * @example
   * const skewMs = Number((await qga.getTime()) / 1_000_000n) - Date.now();
   */
  async getTime(options: QGACommandOptions = {}): Promise<bigint> {
    const reply = await this.request("guest-get-time", undefined, options);
    const value = reply === undefined ? undefined : parseExactReturn(reply.text);
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
    throw new ProtocolError(`guest-get-time returned a non-integer: ${reply?.text}`);
  }

  /** `guest-fsfreeze-status`: `thawed` or `frozen`. */
  async fsfreezeStatus(options?: QGACommandOptions): Promise<GuestFsfreezeStatus> {
    return (await this.executeUntyped("guest-fsfreeze-status", undefined, options)) as GuestFsfreezeStatus;
  }

  /**
   * `guest-fsfreeze-freeze` (or `guest-fsfreeze-freeze-list` with `mountpoints`): syncs and freezes the guest's
   * filesystems; returns how many were frozen. Thaw them with {@link fsfreezeThaw}: writes in the guest block
   * until then.
   */
  async fsfreezeFreeze(
    options: QGACommandOptions & { mountpoints?: readonly string[] } = {},
  ): Promise<number> {
    const { mountpoints, ...rest } = options;
    const result =
      mountpoints === undefined
        ? await this.executeUntyped("guest-fsfreeze-freeze", undefined, rest)
        : await this.executeUntyped("guest-fsfreeze-freeze-list", { mountpoints: [...mountpoints] }, rest);
    return result as number;
  }

  /** `guest-fsfreeze-thaw`: returns how many filesystems were thawed. */
  async fsfreezeThaw(options?: QGACommandOptions): Promise<number> {
    return (await this.executeUntyped("guest-fsfreeze-thaw", undefined, options)) as number;
  }

  /** `guest-network-get-interfaces`: the guest's interfaces, addresses and counters. */
  async networkInterfaces(options?: QGACommandOptions): Promise<GuestNetworkInterface[]> {
    return (await this.executeUntyped(
      "guest-network-get-interfaces",
      undefined,
      options,
    )) as GuestNetworkInterface[];
  }

  /**
   * `guest-shutdown`: asks the guest to power down, halt or reboot. The agent sends no reply on success, so this
   * resolves once the command is written; the agent closing the channel afterwards is not reported as an error.
   */
  async shutdown(
    options: QGACommandOptions & { mode?: "powerdown" | "halt" | "reboot" } = {},
  ): Promise<void> {
    const { mode, ...rest } = options;
    await this.executeUntyped("guest-shutdown", mode === undefined ? undefined : { mode }, rest);
  }

  /**
   * Runs a program in the guest (`guest-exec`), waits for it to exit (polling `guest-exec-status`), and returns
   * its exit status and output. `path` is not looked up in a shell: pass an absolute path or a name on the
   * agent's PATH.
   *
   * @example
   * const { exitcode, stdout } = await qga.exec("/bin/sh", ["-c", "uname -r"], { timeoutMs: 10_000 });
   */
  exec(
    path: string,
    args?: readonly string[],
    options?: QGAExecOptions & { encoding?: "utf8" },
  ): Promise<QGAExecResult<string>>;
  exec(
    path: string,
    args: readonly string[],
    options: QGAExecOptions & { encoding: "bytes" },
  ): Promise<QGAExecResult<Uint8Array>>;
  exec(
    path: string,
    args: readonly string[] = [],
    options: QGAExecOptions = {},
  ): Promise<QGAExecResult<string | Uint8Array>> {
    return runExec(this, path, args, options);
  }

  /**
   * Reads a whole file from the guest (`guest-file-open`/`-read`/`-close`, base64, in chunks). The handle is
   * closed whatever happens.
   */
  fileRead(path: string, options: QGAFileReadOptions = {}): Promise<Uint8Array> {
    return readGuestFile(this, path, options);
  }

  /**
   * Writes a file in the guest (`guest-file-open`/`-write`/`-close`, base64, in chunks; strings as UTF-8),
   * replacing it unless `mode: "a"`. Returns the bytes written. The handle is closed whatever happens.
   */
  fileWrite(path: string, data: string | Uint8Array, options: QGAFileWriteOptions = {}): Promise<number> {
    return writeGuestFile(this, path, data, options);
  }
}
