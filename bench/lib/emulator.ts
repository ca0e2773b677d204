/**
 * Workload 10 (issue 15): start-up to a listening monitor. The same command line is given to the real
 * `qemu-system-x86_64` and to `dist/qmpkit fake-qemu` — `-machine none|q35 … -nodefaults -display none -qmp
 * unix:SOCK,server=on,wait=off` — and the time is from spawn until a client connected to SOCK has read the QMP
 * greeting (the moment a program that launched QEMU can start talking to it). The socket path and then the
 * connection are retried every 0.5 ms. Each process is then killed with SIGKILL and reaped before the next run; runs alternate between
 * contenders, so load drift hits both alike.
 *
 * Beside the wall time, each start-up's CPU time (user + system of the child, from `resourceUsage()` once it is
 * reaped): on a shared 2-core machine wall time mostly measures the neighbours, CPU time what the process did.
 * The child is killed as soon as the greeting is read, so its CPU time is its start-up plus the moment it idles
 * before SIGKILL lands.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CLI_BINARY, ensureBinary } from "./cli.ts";
import { notice, onCleanup, sleep, tempDir, withTimeout } from "./env.ts";
import { millis, type Row } from "./report.ts";

const MACHINES = [
  { label: "none", args: ["-machine", "none", "-nodefaults", "-display", "none"] },
  {
    label: "q35",
    args: ["-machine", "q35", "-accel", "tcg", "-m", "256", "-nodefaults", "-display", "none"],
  },
] as const;

interface Launcher {
  readonly impl: string;
  readonly argv: readonly string[];
  readonly isQemu: boolean;
}

/** One start-up: wall time from spawn to greeting and the child's CPU time, both in ns. */
interface Startup {
  readonly wall: number;
  readonly cpu: number;
}

/** Spawn → greeting read; rejects if the process exits first or takes over 30 s. */
async function startOnce(argv: readonly string[], args: readonly string[], socket: string): Promise<Startup> {
  const t0 = Bun.nanoseconds();
  const proc = Bun.spawn([...argv, ...args, "-qmp", `unix:${socket},server=on,wait=off`], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  const unregister = onCleanup(async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  });
  let wall: number;
  try {
    wall = await withTimeout(
      (async () => {
        while (!existsSync(socket)) {
          if (proc.exitCode !== null) throw new Error(`exited with ${proc.exitCode} before listening`);
          await sleep(0.5);
        }
        // The path exists from bind(), a moment before listen(): a refused connect is retried.
        const greeted = Promise.withResolvers<void>();
        let client: Awaited<ReturnType<typeof Bun.connect>> | undefined;
        while (client === undefined) {
          try {
            client = await Bun.connect({
              unix: socket,
              socket: {
                data: () => greeted.resolve(),
                connectError: () => {},
                close: () => greeted.reject(new Error("closed before greeting")),
              },
            });
          } catch (error) {
            if (proc.exitCode !== null) throw new Error(`exited with ${proc.exitCode}: ${String(error)}`);
            await sleep(0.5);
          }
        }
        await greeted.promise;
        const elapsed = Bun.nanoseconds() - t0;
        client.end();
        return elapsed;
      })(),
      30_000,
      "start-up",
    );
  } finally {
    proc.kill("SIGKILL");
    await proc.exited;
    unregister();
  }
  const usage = proc.resourceUsage();
  // cpuTime is in microseconds.
  const cpu = usage === undefined ? Number.NaN : Number(usage.cpuTime.user + usage.cpuTime.system) * 1e3;
  return { wall, cpu };
}

export async function benchEmulatorStartup(runs: number, qemuVersion: string | null): Promise<Row[]> {
  await ensureBinary();
  const launchers: Launcher[] = [];
  if (qemuVersion !== null)
    launchers.push({
      impl: `qemu-system-x86_64 (${qemuVersion})`,
      argv: ["qemu-system-x86_64"],
      isQemu: true,
    });
  else notice("workload 10: no qemu-system-x86_64, the fake's start-up is measured alone");
  if (existsSync(CLI_BINARY))
    launchers.push({ impl: "dist/qmpkit fake-qemu", argv: [CLI_BINARY, "fake-qemu"], isQemu: false });
  else notice("workload 10: no dist/qmpkit: the fake's rows are skipped");
  const dir = await tempDir("emulator");
  const rows: Row[] = [];
  try {
    for (const machine of MACHINES) {
      const costs = launchers.map(() => [] as number[]);
      const cpus = launchers.map(() => [] as number[]);
      const usable = launchers.map(() => true);
      for (let rep = 0; rep < runs; rep++) {
        for (const [i, launcher] of launchers.entries()) {
          if (!usable[i]) continue;
          const socket = join(dir.path, `${machine.label}-${i}-${rep}.sock`);
          try {
            const { wall, cpu } = await startOnce(launcher.argv, machine.args, socket);
            costs[i]?.push(wall);
            cpus[i]?.push(cpu);
          } catch (error) {
            usable[i] = false;
            notice(
              `workload 10: ${launcher.impl} -machine ${machine.label}: ${String(error)}; its row is skipped`,
            );
          }
        }
      }
      for (const [i, launcher] of launchers.entries()) {
        if (!usable[i]) continue;
        rows.push({
          workload: `10. start-up to a listening monitor, -machine ${machine.label}`,
          impl: launcher.impl,
          unit: millis,
          // Real QEMU is the baseline: the ratio column reads "times QEMU's start-up".
          ...(launcher.isQemu ? { ref: "c" as const } : {}),
          costs: costs[i] ?? [],
        });
      }
      for (const [i, launcher] of launchers.entries()) {
        if (!usable[i]) continue;
        rows.push({
          workload: `10. start-up CPU time (user+sys), -machine ${machine.label}`,
          impl: launcher.impl,
          unit: millis,
          ...(launcher.isQemu ? { ref: "c" as const } : {}),
          costs: cpus[i] ?? [],
        });
      }
    }
  } finally {
    await dir.remove();
  }
  return rows;
}
