/**
 * Workload 8: the compiled CLI. Binary size, and the wall time from spawn to
 * exit of `qmpkit --version` and `qmpkit exec --fake query-status`, beside
 * `/bin/true` (the process-spawn floor), `bun -e 0` (Bun's own start-up; `bun -e ''` only prints help) and a
 * compiled hello-world; the CLI is measured as `dist/qmpkit` and as a `--bytecode` build of the same sources.
 * Each run's CPU time (user + system of the child, from `resourceUsage()`) is reported beside its wall time:
 * on this shared 2-core machine the wall time mostly measures the neighbours.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { notice, progress, ROOT_DIR } from "./env.ts";
import { megabytes, millis, type Ref, type Row } from "./report.ts";

export const CLI_BINARY = join(ROOT_DIR, "dist", "qmpkit");
const BASELINE_BIN = join(ROOT_DIR, "bench", "baseline", "bin");
/**
 * The same CLI compiled the plain way (`bun build --compile`, one chunk parsed at start-up), for comparison with
 * `bun run build`'s `--splitting --format=esm --bytecode`; built fresh each run beside the baselines.
 */
const PLAIN_BINARY = join(BASELINE_BIN, "qmpkit-plain");
/** A compiled `console.log("hello")`: the floor for any `bun build --compile` program (issue 17's yardstick). */
const HELLO_BINARY = join(BASELINE_BIN, "hello-bun");

/** Compiles `entry` (a file, or source text for a temp file) to `outfile`; false (with a notice) if that fails. */
async function compile(entry: string, outfile: string, extra: string[] = []): Promise<boolean> {
  const proc = Bun.spawn([process.execPath, "build", "--compile", ...extra, entry, "--outfile", outfile], {
    cwd: join(ROOT_DIR, "apps", "qmpkit"),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0 || !existsSync(outfile)) {
    notice(
      `workload 8: compiling ${outfile} failed (exit ${code}): ${err.trim().split("\n").slice(-2).join(" / ")}`,
    );
    return false;
  }
  return true;
}

interface Command {
  readonly impl: string;
  readonly argv: string[];
  readonly ref?: Ref;
}

/** One run: wall time from spawn to exit and the child's CPU time, in ns; and its exit status. */
async function runOnce(argv: string[]): Promise<{ ns: number; cpu: number; code: number }> {
  const t0 = Bun.nanoseconds();
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const code = await proc.exited;
  const ns = Bun.nanoseconds() - t0;
  const usage = proc.resourceUsage();
  // cpuTime is in microseconds.
  const cpu = usage === undefined ? Number.NaN : Number(usage.cpuTime.user + usage.cpuTime.system) * 1e3;
  return { ns, cpu, code };
}

/**
 * Make `dist/qmpkit` with `bun run build` when it is missing. An existing binary is used as it is (it may be older
 * than the sources: delete it to measure the current code), so the bench never rewrites a binary someone else runs.
 */
export async function ensureBinary(): Promise<void> {
  if (existsSync(CLI_BINARY)) {
    progress(`workload 8: using ${CLI_BINARY} built ${statSync(CLI_BINARY).mtime.toISOString()}`);
    return;
  }
  progress("workload 8: dist/qmpkit is missing, running `bun run build`");
  const proc = Bun.spawn([process.execPath, "run", "build"], {
    cwd: ROOT_DIR,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0 || !existsSync(CLI_BINARY)) {
    notice(
      `workload 8: \`bun run build\` failed (exit ${code}): ${err.trim().split("\n").slice(-3).join(" / ")}`,
    );
  }
}

export async function benchCli(runs: number): Promise<Row[]> {
  await ensureBinary();
  const label = "8. CLI cold start (spawn to exit)";
  const commands: Command[] = [];
  const trueBin = Bun.which("true");
  if (trueBin !== null) commands.push({ impl: "/bin/true", argv: [trueBin], ref: "c" });
  mkdirSync(BASELINE_BIN, { recursive: true });
  const helloSource = join(BASELINE_BIN, "hello-bun.ts");
  await Bun.write(helloSource, 'console.log("hello");\n');
  const hello = await compile(helloSource, HELLO_BINARY);
  // The "raw Bun" column is the compiled hello-world when it builds (issue 17's targets are ratios to it: the CLI
  // is a compiled binary too), else `bun -e 0`. `bun -e ''` prints Bun's help and runs no JavaScript (Bun 1.4.4):
  // `bun -e 0` is the runtime's real start-up.
  commands.push({
    impl: "bun -e 0",
    argv: [process.execPath, "-e", "0"],
    ...(hello ? {} : { ref: "bun" as const }),
  });
  if (hello) {
    commands.push({ impl: "compiled hello-world (bun build --compile)", argv: [HELLO_BINARY], ref: "bun" });
  }
  const rows: Row[] = [];
  if (existsSync(CLI_BINARY)) {
    commands.push({ impl: "qmpkit --version", argv: [CLI_BINARY, "--version"] });
    commands.push({
      impl: "qmpkit exec --fake query-status",
      argv: [CLI_BINARY, "exec", "--fake", "query-status"],
    });
    if (await compile("./src/main.ts", PLAIN_BINARY, ["--target=bun-linux-x64"])) {
      commands.push({ impl: "qmpkit --version (plain --compile)", argv: [PLAIN_BINARY, "--version"] });
      commands.push({
        impl: "qmpkit exec --fake query-status (plain --compile)",
        argv: [PLAIN_BINARY, "exec", "--fake", "query-status"],
      });
    }
    const size = "8. binary size";
    rows.push({
      workload: size,
      impl: "bun (runtime)",
      unit: megabytes,
      ref: "bun",
      costs: [statSync(process.execPath).size],
    });
    rows.push({ workload: size, impl: "dist/qmpkit", unit: megabytes, costs: [statSync(CLI_BINARY).size] });
  } else {
    notice(
      "workload 8: no dist/qmpkit (the build failed): only the /bin/true and bun -e 0 rows are measured",
    );
  }
  const usable: Command[] = [];
  for (const cmd of commands) {
    const probe = await runOnce(cmd.argv);
    if (probe.code === 0) usable.push(cmd);
    else notice(`workload 8: \`${cmd.impl}\` exited with ${probe.code}; its row is skipped`);
  }
  const costs = usable.map(() => [] as number[]);
  const cpus = usable.map(() => [] as number[]);
  for (let rep = 0; rep < runs; rep++) {
    for (const [i, cmd] of usable.entries()) {
      const run = await runOnce(cmd.argv);
      costs[i]?.push(run.ns);
      cpus[i]?.push(run.cpu);
    }
  }
  const timed = (workload: string, values: number[][]) =>
    usable.map(
      (cmd, i): Row => ({
        workload,
        impl: cmd.impl,
        unit: millis,
        ...(cmd.ref === undefined ? {} : { ref: cmd.ref }),
        costs: values[i] ?? [],
      }),
    );
  return [...timed(label, costs), ...timed("8. CLI cold start, CPU time (user+sys)", cpus), ...rows];
}
