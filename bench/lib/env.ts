import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** `bench/` */
export const BENCH_DIR = resolve(import.meta.dir, "..");
/** The repository root. */
export const ROOT_DIR = resolve(BENCH_DIR, "..");
/** Where the C baselines are compiled to (gitignored). */
export const BIN_DIR = join(BENCH_DIR, "baseline", "bin");

const notices: string[] = [];

/** Say why something is skipped or substituted; repeated under the table. */
export function notice(message: string): void {
  notices.push(message);
  console.error(`[bench] ${message}`);
}

export function allNotices(): readonly string[] {
  return notices;
}

export function progress(message: string): void {
  console.error(`[bench] ${message}`);
}

type CleanupTask = () => Promise<void> | void;
const cleanupTasks = new Set<CleanupTask>();

/** Register work that must run however the bench ends; returns an unregister function. */
export function onCleanup(task: CleanupTask): () => void {
  cleanupTasks.add(task);
  return () => {
    cleanupTasks.delete(task);
  };
}

/** Run every registered cleanup task, newest first. */
export async function cleanupAll(): Promise<void> {
  for (const task of [...cleanupTasks].reverse()) {
    cleanupTasks.delete(task);
    try {
      await task();
    } catch (err) {
      console.error(`[bench] cleanup failed: ${String(err)}`);
    }
  }
}

let interrupted = false;

/** True once SIGINT/SIGTERM arrived: start nothing new. */
export function isInterrupted(): boolean {
  return interrupted;
}

/** Ctrl-C and SIGTERM still stop child processes and remove temp dirs. */
export function cleanupOnSignals(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`\n[bench] ${signal}: cleaning up`);
      void cleanupAll().finally(() => process.exit(130));
    });
  }
}

export interface TempDir {
  readonly path: string;
  remove(): Promise<void>;
}

/** A fresh directory under the system temp dir (short, so unix socket paths fit). */
export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `qmpkit-bench-${prefix}-`));
  const remove = async (): Promise<void> => {
    unregister();
    await rm(path, { recursive: true, force: true });
  };
  const unregister = onCleanup(() => rm(path, { recursive: true, force: true }));
  return { path, remove };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Race a promise against a deadline. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
