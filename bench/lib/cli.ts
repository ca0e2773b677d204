/**
 * Workload 8: the compiled CLI. Binary size, and the wall time from spawn to
 * exit of `qmpkit --version` and `qmpkit exec --fake query-status`, beside
 * `/bin/true` (the process-spawn floor) and `bun -e ''` (Bun's own start-up).
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { notice, ROOT_DIR } from "./env.ts";
import { megabytes, millis, type Ref, type Row } from "./report.ts";

export const CLI_BINARY = join(ROOT_DIR, "dist", "qmpkit");

interface Command {
  readonly impl: string;
  readonly argv: string[];
  readonly ref?: Ref;
}

async function runOnce(argv: string[]): Promise<{ ns: number; code: number }> {
  const t0 = Bun.nanoseconds();
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const code = await proc.exited;
  return { ns: Bun.nanoseconds() - t0, code };
}

export async function benchCli(runs: number): Promise<Row[]> {
  const label = "8. CLI cold start (spawn to exit)";
  const commands: Command[] = [];
  const trueBin = Bun.which("true");
  if (trueBin !== null) commands.push({ impl: "/bin/true", argv: [trueBin], ref: "c" });
  commands.push({ impl: "bun -e ''", argv: [process.execPath, "-e", ""], ref: "bun" });
  const rows: Row[] = [];
  if (existsSync(CLI_BINARY)) {
    commands.push({ impl: "qmpkit --version", argv: [CLI_BINARY, "--version"] });
    commands.push({
      impl: "qmpkit exec --fake query-status",
      argv: [CLI_BINARY, "exec", "--fake", "query-status"],
    });
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
      "workload 8: dist/qmpkit does not exist yet (bun run build): only the /bin/true and bun -e '' rows are measured",
    );
  }
  const usable: Command[] = [];
  for (const cmd of commands) {
    const probe = await runOnce(cmd.argv);
    if (probe.code === 0) usable.push(cmd);
    else notice(`workload 8: \`${cmd.impl}\` exited with ${probe.code}; its row is skipped`);
  }
  const costs = usable.map(() => [] as number[]);
  for (let rep = 0; rep < runs; rep++) {
    for (const [i, cmd] of usable.entries()) costs[i]?.push((await runOnce(cmd.argv)).ns);
  }
  const timed = usable.map(
    (cmd, i): Row => ({
      workload: label,
      impl: cmd.impl,
      unit: millis,
      ...(cmd.ref === undefined ? {} : { ref: cmd.ref }),
      costs: costs[i] ?? [],
    }),
  );
  return [...timed, ...rows];
}
