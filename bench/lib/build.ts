import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { BENCH_DIR, BIN_DIR, notice, progress } from "./env.ts";

export interface Baselines {
  /** `qmp-server SOCKET SCHEMA` */
  readonly server: string;
  /** `qmp-client SOCKET MODE N` */
  readonly client: string;
}

async function compile(cc: string, args: string[]): Promise<string | null> {
  const proc = Bun.spawn([cc, ...args], { stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return code === 0 ? null : stderr.trim() || `${cc} exited with ${code}`;
}

/**
 * Compile the C baselines with `cc -O2` into bench/baseline/bin/, once per run.
 * Returns null (after a notice) when there is no compiler or compiling fails:
 * the raw C rows and the C server are then skipped.
 */
export async function buildBaselines(): Promise<Baselines | null> {
  const cc = Bun.which("cc") ?? Bun.which("gcc") ?? Bun.which("clang");
  if (cc === null) {
    notice("no C compiler (cc/gcc/clang) on PATH: raw C client and C server rows are skipped");
    return null;
  }
  await mkdir(BIN_DIR, { recursive: true });
  const src = join(BENCH_DIR, "baseline");
  const server = join(BIN_DIR, "qmp-server");
  const client = join(BIN_DIR, "qmp-client");
  const started = performance.now();
  const errors = await Promise.all([
    compile(cc, ["-O2", "-o", server, join(src, "server.c")]),
    compile(cc, ["-O2", "-pthread", "-o", client, join(src, "client.c")]),
  ]);
  const failed = errors.filter((e): e is string => e !== null);
  if (failed.length > 0) {
    notice(`compiling the C baselines failed, their rows are skipped:\n${failed.join("\n")}`);
    return null;
  }
  progress(`compiled C baselines with ${cc} -O2 in ${(performance.now() - started).toFixed(0)} ms`);
  return { server, client };
}
