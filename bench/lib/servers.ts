import { join } from "node:path";
import { spawnQemu } from "../../packages/testkit/src/index.ts";
import type { Baselines } from "./build.ts";
import type { RunningServer, ServerContender, ServerContext } from "./contender.ts";
import { onCleanup } from "./env.ts";

type Child = ReturnType<typeof Bun.spawn>;

/** Stop a child: SIGTERM, then SIGKILL if it lingers. */
async function stopChild(proc: Child): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  // A cleared timer, not sleep(): a pending 3 s timer would hold the bench process open after the child is gone.
  let grace: ReturnType<typeof setTimeout> | undefined;
  const exited = await Promise.race([
    proc.exited.then(() => true),
    new Promise<false>((resolve) => {
      grace = setTimeout(() => resolve(false), 3000);
    }),
  ]);
  clearTimeout(grace);
  if (!exited) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}

/** Spawn a server that prints `READY` on stdout once it listens; stopped by the returned `stop()` or at cleanup. */
async function spawnReady(name: string, argv: string[], address: string): Promise<RunningServer> {
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "inherit" });
  const unregister = onCleanup(() => stopChild(proc));
  const reader = proc.stdout.getReader();
  const first = await Promise.race([reader.read(), proc.exited.then(() => null)]);
  reader.releaseLock();
  const text = first?.value ? new TextDecoder().decode(first.value) : "";
  if (!text.startsWith("READY")) {
    await stopChild(proc);
    unregister();
    throw new Error(`${name} did not start (exit ${proc.exitCode})`);
  }
  return {
    address,
    async stop() {
      unregister();
      await stopChild(proc);
    },
  };
}

/** The C reference server (bench/baseline/server.c). */
export function cServer(bins: Baselines): ServerContender {
  return {
    name: "C server",
    asTarget: true,
    asServer: true,
    events: true,
    start(ctx: ServerContext): Promise<RunningServer> {
      const address = join(ctx.dir, "c-server.sock");
      return spawnReady("qmp-server", [bins.server, address, ctx.schemaPath], address);
    },
  };
}

/**
 * qmpkit's testkit fake (`createFakeQemu({ benchCommands: true, record: false })`) in its own Bun process: a
 * target for workloads 1–5 and a server in workload 7. It answers `query-qmp-schema` with its own recorded QEMU 7.2
 * schema (the same fixture the C server serves when the checkout has it).
 */
export const fakeServer: ServerContender = {
  name: "qmpkit fake",
  asTarget: true,
  asServer: true,
  events: true,
  start(ctx: ServerContext): Promise<RunningServer> {
    const address = join(ctx.dir, "fake.sock");
    const script = join(import.meta.dir, "fake-server-child.ts");
    return spawnReady("the testkit fake", [process.execPath, script, address], address);
  },
};

const QEMU = "qemu-system-x86_64";

/** `QEMU 7.2.x` from `qemu-system-x86_64 --version`, or null when QEMU is not installed. */
export async function qemuVersion(): Promise<string | null> {
  const bin = Bun.which(QEMU);
  if (bin === null) return null;
  const proc = Bun.spawn([bin, "--version"], { stdout: "pipe", stderr: "ignore" });
  const [out] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return /version\s+(\S+)/.exec(out)?.[1] ?? "unknown";
}

/**
 * A running `qemu-system-x86_64 -machine none`, started by the testkit's launcher: it waits until the QMP socket
 * listens (QEMU creates the file at bind, before listen), and removes QEMU and its temp dir however the run ends.
 */
export async function startQemu(): Promise<RunningServer> {
  const qemu = await spawnQemu({ binary: QEMU });
  const unregister = onCleanup(async () => {
    await qemu[Symbol.asyncDispose]();
  });
  return {
    address: qemu.path,
    async stop() {
      unregister();
      await qemu[Symbol.asyncDispose]();
    },
  };
}

/** Real QEMU as a target. It runs one in-band command at a time (~150 µs), so 100,000 pipelined would take 15 s a run: pipe is 20,000. */
export function qemuServer(version: string, quick: boolean): ServerContender {
  return {
    name: `QEMU ${version}`,
    asTarget: true,
    asServer: false,
    events: false,
    sizes: quick
      ? { connect: 50, seq: 1000, pipe: 1000, schema: 5 }
      : { connect: 1000, seq: 20_000, pipe: 20_000, schema: 50 },
    start: () => startQemu(),
  };
}
