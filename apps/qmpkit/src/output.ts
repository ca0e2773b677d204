/**
 * Standard output and error as the CLI writes them: through Bun's native file sinks rather than
 * `process.stdout`/`process.stderr`, whose Node stream machinery costs more start-up time than the
 * rest of `qmpkit --version` together, and whose EPIPE surfaces as an uncaught `error` event (a stack
 * trace, and a process that keeps running and keeps QEMU's one monitor connection).
 *
 * Here a write to a closed pipe (`qmpkit events S | head -1`) throws {@link OutputClosedError}
 * synchronously, so the command unwinds through its `finally` blocks, closes its session, and exits
 * quietly with the status a process killed by SIGPIPE would have.
 */

import { CliError } from "./errors.ts";
import type { OutputStream } from "./format.ts";

/** 128 + SIGPIPE: what a shell reports for a program that a closed pipe stopped. */
export const EXIT_PIPE_CLOSED = 141;

/** The reader of stdout (or stderr) went away. main() exits quietly on it. */
export class OutputClosedError extends CliError {
  override name = "OutputClosedError";
  override readonly code = "QMPKIT_ERR_OUTPUT_CLOSED";
  override readonly exitCode = EXIT_PIPE_CLOSED;
}

/** A standard stream: writes that throw {@link OutputClosedError}, and a signal that fires when it closes. */
export interface CliOutput extends OutputStream {
  /** Aborted once a write found the reader gone. */
  readonly closed: AbortSignal;
  /** Terminal width when the stream is a terminal, read afresh each time (windows get resized). */
  readonly columns: number | undefined;
  /** Resolves when everything written so far has reached the file descriptor. */
  flush(): Promise<void>;
  /**
   * Writes one piece of text through Bun's native file writer, without loading `node:fs`: for `--version`,
   * `--help` and `exec`, whose start-up that module would dominate. Rejects with {@link OutputClosedError} on
   * EPIPE. Call it through {@link writeWhole}, which keeps long texts away from it.
   */
  writeOnce(text: string): Promise<void>;
}

type WriteSync = (fd: number, data: string | Uint8Array) => number;
let writeSync: WriteSync | undefined;

function isPipeClosed(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EPIPE" || code === "EIO";
}

/**
 * Writes all of `data` to `fd` before returning. Synchronous on purpose: a closed pipe then fails the
 * very write that found it (Bun's native file sink also reports it a second time, as uncaught), and
 * output is never reordered or lost at exit. A non-blocking descriptor inherited from the parent may
 * refuse a write for a moment (EAGAIN): wait a millisecond and go on.
 */
function writeAll(fd: number, data: string | Uint8Array): void {
  // Loaded on the first write, not at start-up; `import.meta.require`, as a bare `require` made main.js load the
  // bundler's `__require` helper as a chunk of its own (~0.05 ms of every run, --version too).
  writeSync ??= (import.meta.require("node:fs") as typeof import("node:fs")).writeSync as WriteSync;
  let bytes = typeof data === "string" ? Buffer.from(data) : data;
  while (bytes.length > 0) {
    let written: number;
    try {
      written = writeSync(fd, bytes);
    } catch (error) {
      if ((error as { code?: unknown }).code !== "EAGAIN") throw error;
      Bun.sleepSync(1);
      continue;
    }
    bytes = bytes.subarray(written);
  }
}

/** isatty(3) without loading `node:tty` (which pulls in Node's net and stream modules). */
export function isTerminal(fd: number): boolean {
  const binding = (process as unknown as { binding?(name: string): { isTTY?(fd: number): boolean } }).binding;
  try {
    const isTTY = binding?.("tty_wrap").isTTY;
    if (isTTY) return isTTY(fd);
  } catch {
    // Not offered by this runtime: fall back to the module below.
  }
  return (import.meta.require("node:tty") as typeof import("node:tty")).isatty(fd);
}

let watchingResize = false;

/** Terminal columns of `fd`, or undefined when it is not a terminal. */
function terminalColumns(fd: 1 | 2): number | undefined {
  const stream = fd === 1 ? process.stdout : process.stderr;
  if (!stream.isTTY) return undefined;
  if (!watchingResize) {
    watchingResize = true;
    // The stream re-reads the window size on SIGWINCH only while someone listens for it.
    stream.on("resize", () => {});
  }
  return stream.columns;
}

class FdOutput implements CliOutput {
  readonly #fd: 1 | 2;
  /**
   * Aborted once the reader went away. Made when someone asks for `closed` or the pipe breaks: most runs do neither,
   * and every run (--version too) makes both streams before anything else.
   */
  #closed: AbortController | undefined;
  #tty: boolean | undefined;

  constructor(fd: 1 | 2) {
    this.#fd = fd;
  }

  get isTTY(): boolean {
    this.#tty ??= isTerminal(this.#fd);
    return this.#tty;
  }

  get columns(): number | undefined {
    return this.isTTY ? terminalColumns(this.#fd) : undefined;
  }

  get closed(): AbortSignal {
    this.#closed ??= new AbortController();
    return this.#closed.signal;
  }

  write(data: string | Uint8Array): boolean {
    if (this.#closed?.signal.aborted) throw this.#closedError();
    try {
      writeAll(this.#fd, data);
    } catch (error) {
      if (!isPipeClosed(error)) throw error;
      this.#markClosed();
      throw this.#closedError();
    }
    return true;
  }

  async flush(): Promise<void> {
    // Every write has reached the descriptor by the time it returns.
  }

  async writeOnce(text: string): Promise<void> {
    if (this.#closed?.signal.aborted) throw this.#closedError();
    try {
      await Bun.write(this.#fd === 1 ? Bun.stdout : Bun.stderr, text);
    } catch (error) {
      if (!isPipeClosed(error)) throw error;
      this.#markClosed();
      throw this.#closedError();
    }
  }

  #markClosed(): void {
    this.#closed ??= new AbortController();
    this.#closed.abort();
  }

  #closedError(): OutputClosedError {
    return new OutputClosedError(`${this.#fd === 1 ? "stdout" : "stderr"} was closed`);
  }
}

/**
 * Up to this many bytes a pipe takes a write whole or not at all (POSIX PIPE_BUF on Linux). Bun 1.4.4's
 * `Bun.write` mishandles a partial write to a non-blocking pipe: it starts over from the first byte (an
 * `exec --fake query-qmp-schema` of 186 093 bytes arrived as 251 629), so only texts this short may take it.
 */
const PIPE_BUF = 4096;

/**
 * Writes the whole output of a command that prints one text (`--version`, `--help`, `exec`'s reply) through the
 * stream's {@link CliOutput.writeOnce} when it has one and the text is short, so that run never loads `node:fs`
 * (~1 ms of a compiled binary's start-up); resolves once the text has reached the descriptor.
 */
export async function writeWhole(stream: OutputStream, text: string): Promise<void> {
  const { writeOnce } = stream as Partial<CliOutput>;
  if (writeOnce && Buffer.byteLength(text) <= PIPE_BUF) await writeOnce.call(stream, text);
  else stream.write(text);
}

/** The process's stdout (fd 1) and stderr (fd 2). */
export function standardOutputs(): { stdout: CliOutput; stderr: CliOutput } {
  return { stdout: new FdOutput(1), stderr: new FdOutput(2) };
}
