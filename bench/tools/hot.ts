/**
 * The hottest functions of `.cpuprofile`s (from `bun --cpu-prof`) by self time, and by inclusive time. Given
 * several profiles of the same run (a short start-up sampled at a 1 ms interval is a handful of samples), it
 * prints the mean per profile.
 *
 *   bun bench/tools/hot.ts PROFILE.cpuprofile... [--top N]
 */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = Bun.argv.slice(2);
const topAt = args.indexOf("--top");
const top = topAt < 0 ? 25 : Number(args.splice(topAt, 2)[1]);
if (args.length === 0) throw new Error("usage: bun bench/tools/hot.ts PROFILE.cpuprofile... [--top N]");

const label = (f: CallFrame): string =>
  `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(packages|bench)\//, "$1/")}:${f.lineNumber + 1}`;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
for (const file of args) tally((await Bun.file(file).json()) as Profile);

function tally(profile: Profile): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const node = byId.get(id);
    if (node === undefined) return;
    const key = label(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (n === undefined) break;
      const k = label(n.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  });
}
const print = (title: string, map: Map<string, number>) => {
  const runs = args.length;
  console.log(`\n${title} (total ${(total / 1e3 / runs).toFixed(1)} ms per profile, ${runs} profiles)`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `${((100 * v) / total).toFixed(1).padStart(5)}%  ${(v / 1e3 / runs).toFixed(2).padStart(8)} ms  ${k}`,
    );
  }
};
print("self time", self);
print("inclusive time", inclusive);
