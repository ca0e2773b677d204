/**
 * Interleaved start-up timing of several commands: each repetition runs every command once, in the order given, so
 * a slow minute on this shared machine slows them all alike. Prints the median wall time (spawn to exit) and CPU
 * time (user + system of the child) of each, and its ratio to the first command's.
 *
 *   bun bench/tools/ab.ts REPS 'CMD ARGS…' 'CMD ARGS…'…
 *   bun bench/tools/ab.ts 150 bench/baseline/bin/hello-bun 'dist/qmpkit exec --fake query-status'
 *
 * Words are split on spaces (no quoting): prefix `env NAME=VALUE` for an environment variable. Three warm-up
 * repetitions are not counted.
 */
const WARM_UP = 3;

const [repsArg, ...commands] = Bun.argv.slice(2);
const reps = Number(repsArg);
if (!Number.isInteger(reps) || reps < 1 || commands.length === 0) {
  throw new Error("usage: bun bench/tools/ab.ts REPS 'CMD ARGS…' ['CMD ARGS…'…]");
}
const argvs = commands.map((command) => command.split(" ").filter((word) => word !== ""));
const wallMs: number[][] = argvs.map(() => []);
const cpuMs: number[][] = argvs.map(() => []);

for (let rep = 0; rep < WARM_UP + reps; rep++) {
  for (const [i, argv] of argvs.entries()) {
    const started = Bun.nanoseconds();
    const child = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    const code = await child.exited;
    const elapsed = Bun.nanoseconds() - started;
    if (code !== 0) throw new Error(`'${commands[i]}' exited with ${code}`);
    if (rep < WARM_UP) continue;
    const usage = child.resourceUsage();
    wallMs[i]?.push(elapsed / 1e6);
    // cpuTime is in microseconds.
    if (usage) cpuMs[i]?.push(Number(usage.cpuTime.user + usage.cpuTime.system) / 1e3);
  }
}

const median = (values: number[]): number => {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
};
const baseWall = median(wallMs[0] ?? []);
const baseCpu = median(cpuMs[0] ?? []);
for (const [i, command] of commands.entries()) {
  const wall = median(wallMs[i] ?? []);
  const cpu = median(cpuMs[i] ?? []);
  console.log(
    `${wall.toFixed(2)} ms wall (${(wall / baseWall).toFixed(2)}×)  ${cpu.toFixed(2)} ms CPU (${(cpu / baseCpu).toFixed(2)}×)  ${command}`,
  );
}
