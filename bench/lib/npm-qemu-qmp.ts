/**
 * npm `qemu-qmp` (the root devDependency, 0.5.0) as a contender in workloads 1–5. Bun 1.4.4 cannot load it, so
 * each run is a Node child (`npm-qemu-qmp-child.cjs`) that times itself and prints one JSON line, as the raw C
 * client does (`c-client.ts`).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Contender, Measurement } from "./contender.ts";
import { ROOT_DIR } from "./env.ts";

const CHILD = join(import.meta.dir, "npm-qemu-qmp-child.cjs");

interface ChildReport {
  mode: string;
  n: number;
  ns: number;
  ops: number;
}

async function runChild(node: string, address: string, mode: string, n: number, listeners = 1) {
  const proc = Bun.spawn([node, CHILD, address, mode, String(n), String(listeners)], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`npm qemu-qmp ${mode} ${n} failed (exit ${code}): ${err.trim()}`);
  const report = JSON.parse(out) as ChildReport;
  if (report.mode !== mode || report.n !== n)
    throw new Error(`npm qemu-qmp: unexpected report ${out.trim()}`);
  return { ns: report.ns, ops: report.ops } satisfies Measurement;
}

/** Why the contender cannot run here, or null when Node and the package are both present. */
export function npmQemuQmpMissing(): string | null {
  if (Bun.which("node") === null) return "node not found";
  if (!existsSync(join(ROOT_DIR, "node_modules", "qemu-qmp", "package.json"))) {
    return "qemu-qmp is not installed (bun install)";
  }
  return null;
}

/**
 * The client as its README has it: `execute(command, callback)`, replies matched first in, first out, no ids.
 * Pipelining is all n `execute` calls made at once, each a promise around its callback; events are counted by
 * `listeners` functions on the lower-cased event name.
 */
export function npmQemuQmpClient(): Contender {
  const node = Bun.which("node") ?? "node";
  return {
    name: "npm qemu-qmp (Node)",
    inProcess: false,
    connect: (t, n) => runChild(node, t.address, "connect", n),
    seq: (t, n) => runChild(node, t.address, "seq", n),
    pipe: (t, n) => runChild(node, t.address, "pipe", n),
    schema: (t, n) => runChild(node, t.address, "schema", n),
    events: (t, n, listeners) => runChild(node, t.address, "events", n, listeners),
  };
}
