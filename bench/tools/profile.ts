/**
 * Runs one qmpkit client workload against the C server, for profiling:
 *
 *   bun --cpu-prof --cpu-prof-dir=/tmp/prof bench/tools/profile.ts pipe 100000
 *   bun bench/tools/hot.ts /tmp/prof/*.cpuprofile
 *
 * Workloads: connect | seq | pipe | schema | events | events10. Repeats the workload `--reps` times (default 5).
 */
import { parseArgs } from "node:util";
import { buildBaselines } from "../lib/build.ts";
import type { Contender, Target } from "../lib/contender.ts";
import { cleanupAll, tempDir } from "../lib/env.ts";
import { qmpkitClient } from "../lib/qmpkit-client.ts";
import { resolveSchema } from "../lib/schema.ts";
import { cServer } from "../lib/servers.ts";

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { reps: { type: "string", default: "5" } },
  allowPositionals: true,
});
const [workload = "pipe", size = "100000"] = positionals;
const n = Number(size);
const bins = await buildBaselines();
if (bins === null) throw new Error("needs a C compiler");
const dir = await tempDir("profile");
const server = await cServer(bins).start({ dir: dir.path, schemaPath: await resolveSchema() });
const target: Target = { name: "C server", address: server.address, events: true };
const client: Contender = qmpkitClient();
const run = (k: number) => {
  switch (workload) {
    case "connect":
      return client.connect(target, k);
    case "seq":
      return client.seq(target, k);
    case "schema":
      return client.schema(target, k);
    case "events":
      return client.events(target, k, 1);
    case "events10":
      return client.events(target, k, 10);
    default:
      return client.pipe(target, k);
  }
};
try {
  for (let i = 0; i < Number(values.reps); i++) {
    const cpu0 = process.cpuUsage();
    const m = await run(n);
    const cpu = process.cpuUsage(cpu0);
    // CPU time of this process (both the workload and its session set-up) is steadier than wall time on a shared box.
    const cpuPerOp = (cpu.user + cpu.system) / m.ops;
    console.log(
      `${workload} ×${n}: ${(m.ns / m.ops / 1e3).toFixed(3)} µs/op wall, ${cpuPerOp.toFixed(3)} µs/op cpu`,
    );
  }
} finally {
  await server.stop();
  await dir.remove();
  await cleanupAll();
}
