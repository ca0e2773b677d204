import { QMPError } from "@qmpkit/protocol-core";

/** `spawnQemuGa()` could not start a working qemu-ga; `output` holds what the agent printed or logged. */
export class QemuGaSpawnError extends QMPError {
  override name = "QemuGaSpawnError";
  override code = "QMP_ERR_QEMU_GA_SPAWN";
  /** qemu-ga's stderr (unix-listen) or its log and terminal output (serial), possibly empty. */
  readonly output: string;
  /** The exit code if qemu-ga exited, else undefined. */
  readonly exitCode: number | undefined;

  constructor(message: string, output: string, exitCode: number | undefined, cause?: unknown) {
    const detail = output.trim() === "" ? "" : `\nqemu-ga said:\n${output.trim()}`;
    super(`${message}${detail}`, cause === undefined ? undefined : { cause });
    this.output = output;
    this.exitCode = exitCode;
  }
}
