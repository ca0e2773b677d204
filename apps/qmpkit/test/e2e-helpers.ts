import { expect } from "bun:test";
// End-to-end helpers: the compiled binary, built once per test run, and bounded ways to run it.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import pkg from "../package.json" with { type: "json" };
import { within } from "./harness.ts";

/** The repository root. */
export const ROOT = join(import.meta.dir, "..", "..", "..");
const APP = join(import.meta.dir, "..");

const scratch: string[] = [];

/** A fresh private temp dir; {@link removeScratch} (each e2e file's afterAll) deletes it. */
export function scratchDir(prefix = "qmpkit-e2e-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** Deletes every dir {@link scratchDir} made so far. */
export function removeScratch(): void {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
}

const BIN_PREFIX = "qmpkit-e2e-bin-";
let building: Promise<string> | undefined;

/**
 * Compiles `src/main.ts` with `bun build --compile`, once per test process however many files ask (bun test
 * runs every file in one process), and resolves with the executable's path.
 *
 * The executable (about 100 MB) lives in a dir named after this process. bun test runs no exit hooks, so it
 * cannot be removed when the run ends; instead each run first removes the dirs of runs whose process is gone,
 * which leaves at most one behind and never touches a run still going on beside this one.
 */
export function builtBinary(): Promise<string> {
  building ??= (async () => {
    removeStaleBinaries();
    const dir = join(tmpdir(), `${BIN_PREFIX}${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
    const outfile = join(dir, "qmpkit");
    const proc = Bun.spawn(
      [process.execPath, ...buildArguments(outfile)],
      // From the app's dir, so the binary holds only relative paths. A build killed midway leaves a temp file
      // here (*.bun-build, ignored by git).
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

/** package.json's build script, word for word, writing to `outfile`: the tests run the binary users get. */
export function buildArguments(outfile: string): string[] {
  const words = pkg.scripts.build.split(/\s+/);
  const at = words.indexOf("--outfile");
  if (words[0] !== "bun" || words[1] !== "build" || at < 0 || at !== words.length - 2) {
    throw new Error(`package.json's build script is not 'bun build … --outfile FILE': ${pkg.scripts.build}`);
  }
  return [...words.slice(1, at + 1), outfile];
}

function removeStaleBinaries(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(BIN_PREFIX)) continue;
    const pid = Number(name.slice(BIN_PREFIX.length));
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
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

/**
 * The piped-shell scenario every target must pass alike (the fake is QEMU-faithful): one command per line, one
 * JSON line per reply, STOP as it arrives, exit 1 because one command failed.
 */
export async function expectPipedShellSession(target: readonly string[]): Promise<void> {
  const { exitCode, stdout, stderr } = await qmpkit(["shell", ...target], {
    stdin: "query-status\nstop\nquery-status\nno-such-command\n",
  });
  expect({ exitCode, stderr }).toEqual({ exitCode: 1, stderr: "" });
  const out = stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
  expect(out.filter((m) => !("event" in m))).toEqual([
    { return: { status: "running", singlestep: false, running: true } },
    { return: {} },
    { return: { status: "paused", singlestep: false, running: false } },
    { error: { class: "CommandNotFound", desc: "The command no-such-command has not been found" } },
  ]);
  expect(out.filter((m) => "event" in m).map((m) => m.event)).toEqual(["STOP"]);
}
