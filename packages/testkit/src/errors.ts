import { QMPError, type QMPErrorOptions } from "@qmpkit/protocol-core";

/**
 * Thrown by a `fake.handle()` handler (or via `ctx.fail()`) to make the fake answer with a QMP error reply
 * `{"error": {"class": errorClass, "desc": desc}}`.
 *
 * @example
 * fake.handle("device_add", () => { throw new QMPCommandError("GenericError", "Duplicate ID 'net0'"); });
 */
export class QMPCommandError extends QMPError {
  override name = "QMPCommandError";
  override code = "QMP_ERR_FAKE_COMMAND";
  /** The QMP error class sent, e.g. `GenericError`, `CommandNotFound`, `DeviceNotFound`. */
  readonly errorClass: string;
  /** The human-readable description sent. */
  readonly desc: string;

  constructor(errorClass: string, desc: string, options?: QMPErrorOptions) {
    super(desc, options);
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

/** The fake server could not start (listening failed) or was used after `close()`. */
export class FakeQemuError extends QMPError {
  override name = "FakeQemuError";
  override code = "QMP_ERR_FAKE";
}

/** A real QEMU could not be started, exited before its QMP socket accepted, or is not installed. */
export class SpawnQemuError extends QMPError {
  override name = "SpawnQemuError";
  override code = "QMP_ERR_SPAWN_QEMU";
  /** What QEMU wrote to stderr before the failure (may be empty). */
  readonly stderr: string;
  /** QEMU's exit code, when it exited. */
  readonly exitCode: number | undefined;

  constructor(message: string, details: { stderr?: string; exitCode?: number; cause?: unknown } = {}) {
    const stderr = details.stderr ?? "";
    super(stderr.trim() ? `${message}\nQEMU stderr:\n${stderr.trimEnd()}` : message, {
      cause: details.cause,
    });
    this.stderr = stderr;
    this.exitCode = details.exitCode;
  }
}

/** A transcript file is missing, unreadable, or not in the JSON Lines format `recordTranscript` writes. */
export class TranscriptError extends QMPError {
  override name = "TranscriptError";
  override code = "QMP_ERR_TRANSCRIPT";
}
