import { ProtocolError } from "@qmpkit/protocol-core";
import { previewJson } from "../messages.ts";
import { bytesOf, type QGACommandRunner } from "./exec.ts";
import type { QGACommandOptions } from "./queue.ts";
import { fromBase64, isObject, toBase64 } from "./wire.ts";

/** Options of `fileRead()`. */
export interface QGAFileReadOptions extends QGACommandOptions {
  /**
   * Bytes asked for per `guest-file-read`. Each reply carries them base64-encoded (4/3 larger), so keep it well
   * under the client's `maxMessageBytes`; qemu-ga refuses more than 48 MB. @default 1048576 (1 MiB)
   */
  chunkBytes?: number;
}

/** Options of `fileWrite()`. */
export interface QGAFileWriteOptions extends QGACommandOptions {
  /** Bytes sent per `guest-file-write`. @default 1048576 (1 MiB) */
  chunkBytes?: number;
  /** The fopen(3) mode the guest opens the file with: `w` truncates, `a` appends. @default "w" */
  mode?: "w" | "a" | "wb" | "ab" | "w+" | "a+" | (string & {});
}

/** @default 1 MiB */
const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** qemu-ga's QGA_READ_COUNT_MAX. */
const MAX_READ_CHUNK_BYTES = 48 * 1024 * 1024;

// `timeoutMs` and `signal` apply to each command, not to the whole transfer: a large file is many round trips.
function perCommand(options: QGACommandOptions): QGACommandOptions {
  const result: QGACommandOptions = {};
  if (options.signal !== undefined) result.signal = options.signal;
  if (options.timeoutMs !== undefined) result.timeoutMs = options.timeoutMs;
  return result;
}

function chunkSize(value: number | undefined, max: number): number {
  const size = value ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isInteger(size) || size < 1 || size > max) {
    throw new RangeError(`chunkBytes must be an integer from 1 to ${max}, got ${size}`);
  }
  return size;
}

/** Reads a whole guest file: open, read in chunks until EOF, close (also when anything fails). */
export async function readGuestFile(
  runner: QGACommandRunner,
  path: string,
  options: QGAFileReadOptions,
): Promise<Uint8Array> {
  const count = chunkSize(options.chunkBytes, MAX_READ_CHUNK_BYTES);
  const per = perCommand(options);
  const handle = await openGuestFile(runner, path, "r", per);
  return withHandle(runner, handle, async () => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const reply = await runner.executeUntyped("guest-file-read", { handle, count }, per);
      if (!isObject(reply) || typeof reply.count !== "number" || typeof reply.eof !== "boolean") {
        throw new ProtocolError(`guest-file-read returned an unexpected value: ${previewJson(reply)}`);
      }
      const bytes = fromBase64(reply["buf-b64"] as string | undefined);
      chunks.push(bytes);
      total += bytes.length;
      // A read that returns nothing without EOF would otherwise loop for ever (e.g. on a FIFO with no writer).
      if (reply.eof || bytes.length === 0) break;
    }
    const data = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      data.set(chunk, offset);
      offset += chunk.length;
    }
    return data;
  });
}

/** Writes `data` to a guest file: open, write in chunks (resuming short writes), close. Returns bytes written. */
export async function writeGuestFile(
  runner: QGACommandRunner,
  path: string,
  data: string | Uint8Array,
  options: QGAFileWriteOptions,
): Promise<number> {
  const size = chunkSize(options.chunkBytes, Number.MAX_SAFE_INTEGER);
  const bytes = bytesOf(data);
  const per = perCommand(options);
  const handle = await openGuestFile(runner, path, options.mode ?? "w", per);
  return withHandle(runner, handle, async () => {
    let offset = 0;
    while (offset < bytes.length) {
      const chunk = bytes.subarray(offset, Math.min(offset + size, bytes.length));
      const reply = await runner.executeUntyped(
        "guest-file-write",
        { handle, "buf-b64": toBase64(chunk) },
        per,
      );
      const written = isObject(reply) ? reply.count : undefined;
      if (typeof written !== "number" || written <= 0 || written > chunk.length) {
        throw new ProtocolError(
          `guest-file-write accepted ${previewJson(written)} of ${chunk.length} bytes at offset ${offset}`,
        );
      }
      offset += written;
    }
    return offset;
  });
}

async function openGuestFile(
  runner: QGACommandRunner,
  path: string,
  mode: string,
  options: QGACommandOptions,
): Promise<number> {
  const handle = await runner.executeUntyped("guest-file-open", { path, mode }, options);
  if (typeof handle !== "number") {
    throw new ProtocolError(`guest-file-open returned a non-numeric handle: ${previewJson(handle)}`);
  }
  return handle;
}

/**
 * Runs `body`, then closes the handle whatever happened. On the error path the close is best effort and never
 * hides the original error; it runs without the caller's signal, which may be the very thing that aborted.
 */
async function withHandle<T>(runner: QGACommandRunner, handle: number, body: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (error) {
    await runner.executeUntyped("guest-file-close", { handle }).catch(() => {});
    throw error;
  }
  await runner.executeUntyped("guest-file-close", { handle });
  return result;
}
