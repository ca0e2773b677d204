import type { Baselines } from "./build.ts";
import type { Contender, Measurement, Target } from "./contender.ts";

interface ClientReport {
  mode: string;
  n: number;
  ns: number;
  lines: number;
  bytes: number;
}

/** Run `qmp-client ADDRESS MODE N` and return what it measured itself. */
export async function runCClient(
  bin: string,
  address: string,
  mode: string,
  n: number,
): Promise<Measurement> {
  const proc = Bun.spawn([bin, address, mode, String(n)], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`qmp-client ${mode} ${n} failed (exit ${code}): ${err.trim()}`);
  const report = JSON.parse(out) as ClientReport;
  const expected = mode === "connect" ? 2 * n : mode === "events" ? n + 1 : n;
  if (report.lines < expected) {
    throw new Error(`qmp-client ${mode} ${n}: expected ${expected} lines, got ${report.lines}`);
  }
  return { ns: report.ns, ops: n, bytes: report.bytes };
}

/** The physical-limit client: blocking socket, counts newlines, never parses. */
export function cClient(bins: Baselines): Contender {
  const run = (t: Target, mode: string, n: number) => runCClient(bins.client, t.address, mode, n);
  return {
    name: "raw C",
    inProcess: false,
    connect: (t, n) => run(t, "connect", n),
    seq: (t, n) => run(t, "seq", n),
    pipe: (t, n) => run(t, "pipe", n),
    schema: (t, n) => run(t, "schema", n),
    // Listeners mean nothing to a newline counter: the same run serves both rows.
    events: (t, n, _listeners) => run(t, "events", n),
  };
}
