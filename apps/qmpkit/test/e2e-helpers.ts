// End-to-end helpers: the compiled binary, built once per test run, and bounded ways to run it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { within } from "./harness.ts";

/** The repository root. */
export const ROOT = join(import.meta.dir, "..", "..", "..");
const APP = join(import.meta.dir, "..");

const scratch: string[] = [];
process.once("exit", () => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A fresh private temp dir, removed when the test process exits (or earlier by the caller). */
export function scratchDir(prefix = "qmpkit-e2e-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

let building: Promise<string> | undefined;

/**
 * Compiles `src/main.ts` with `bun build --compile` into a temp dir, once per test process however many
 * files ask (bun test runs every file in one process), and resolves with the executable's path.
 */
export function builtBinary(): Promise<string> {
  building ??= (async () => {
    const outfile = join(scratchDir("qmpkit-bin-"), "qmpkit");
    const proc = Bun.spawn(
      [
        process.execPath,
        "build",
        "--compile",
        "--target=bun-linux-x64",
        "./src/main.ts",
        "--outfile",
        outfile,
      ],
      { cwd: APP, stdout: "pipe", stderr: "pipe" },
    );
    const code = await within(proc.exited, 120_000, "bun build --compile");
    if (code !== 0) {
      throw new Error(`bun build --compile failed (${code}): ${await new Response(proc.stderr).text()}`);
    }
    return outfile;
  })();
  return building;
}

/** The environment binaries run in: no colour or debug settings inherited, a private HOME (history). */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(NO_COLOR|FORCE_COLOR|QMPKIT_|BUN_)/.test(key)) env[key] = value;
  }
  return { ...env, HOME: scratchDir("qmpkit-home-"), ...extra };
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to stdin, which is then closed. @default nothing (stdin closed at once) */
  readonly stdin?: string;
  readonly env?: Record<string, string>;
  /** @default a fresh temp dir: the binary must work from anywhere */
  readonly cwd?: string;
  /** @default 15000 */
  readonly timeoutMs?: number;
}

/** Runs `argv[0]` with the rest to completion; kills it and fails with its output if it overruns. */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const proc = Bun.spawn([...argv], {
    cwd: options.cwd ?? scratchDir(),
    env: options.env ?? cleanEnv(),
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const stdout = new Response(proc.stdout).text();
  const stderr = new Response(proc.stderr).text();
  try {
    const exitCode = await within(proc.exited, options.timeoutMs ?? 15_000, `${argv.join(" ")} to exit`);
    return { exitCode, stdout: await stdout, stderr: await stderr };
  } catch (error) {
    proc.kill("SIGKILL");
    await proc.exited;
    throw new Error(`${(error as Error).message}\nstdout: ${await stdout}\nstderr: ${await stderr}`);
  }
}

/** Runs the compiled binary. */
export async function qmpkit(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return run([await builtBinary(), ...args], options);
}

/** A long-running process whose stdout is read line by line. */
export interface Running extends AsyncDisposable {
  readonly proc: Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  /** The next stdout line; fails after `ms` with what was read so far. */
  nextLine(ms?: number): Promise<string>;
  /** Closes stdin (when piped), waits for the exit within `ms`, and returns the rest of stdout and stderr. */
  finish(ms?: number): Promise<RunResult>;
}

/** Starts the compiled binary in the background; disposing it kills it if still running. */
export async function start(
  args: readonly string[],
  options: { env?: Record<string, string>; stdin?: "pipe" | "ignore" } = {},
): Promise<Running> {
  const proc = Bun.spawn([await builtBinary(), ...args], {
    cwd: scratchDir(),
    env: options.env ?? cleanEnv(),
    stdin: options.stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(proc.stderr).text();
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let ended = false;
  const pull = async (): Promise<void> => {
    const { done, value } = await reader.read();
    if (done) ended = true;
    else buffered += decoder.decode(value, { stream: true });
  };
  const nextLine = async (ms = 10_000): Promise<string> => {
    const deadline = performance.now() + ms;
    while (!buffered.includes("\n")) {
      if (ended) throw new Error(`stdout ended without another line; read: ${JSON.stringify(buffered)}`);
      const left = deadline - performance.now();
      await within(pull(), Math.max(1, left), `a line on stdout (read so far: ${JSON.stringify(buffered)})`);
    }
    const at = buffered.indexOf("\n");
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return line;
  };
  const finish = async (ms = 10_000): Promise<RunResult> => {
    if (options.stdin === "pipe") (proc.stdin as { end(): void }).end();
    const exitCode = await within(proc.exited, ms, `qmpkit ${args.join(" ")} to exit`);
    while (!ended) await pull();
    return { exitCode, stdout: buffered, stderr: await stderr };
  };
  return {
    proc: proc as Running["proc"],
    nextLine,
    finish,
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

/** Whether real-QEMU tests are skipped: only without QEMU, and never under CI=true (they then fail). */
export function skipWithout(binary: string): boolean {
  return Bun.which(binary) === null && process.env.CI !== "true";
}
