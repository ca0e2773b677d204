/**
 * qmpkit benchmarks: `bun run bench` (full, < 10 min) or `bun run bench -- --quick` (< 1 min).
 * Options: --only 1,3,5 (workload numbers), --reps N. See bench/README.md.
 */
import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { rawBunClient, rawBunPromiseClient, rawBunServer } from "./baseline/raw-bun.ts";
import * as plugged from "./contenders.ts";
import { type Baselines, buildBaselines } from "./lib/build.ts";
import { cClient, runCClient } from "./lib/c-client.ts";
import { benchCli } from "./lib/cli.ts";
import type {
  Contender,
  DecoderContender,
  Measurement,
  RunningServer,
  ServerContender,
  Sizes,
  Target,
} from "./lib/contender.ts";
import { makeStream, parseOnly, splitAndParse, splitOnly } from "./lib/decode.ts";
import { benchEmulatorStartup } from "./lib/emulator.ts";
import {
  allNotices,
  BENCH_DIR,
  cleanupAll,
  cleanupOnSignals,
  isInterrupted,
  notice,
  progress,
  tempDir,
  withTimeout,
} from "./lib/env.ts";
import { npmQemuQmpClient, npmQemuQmpMissing } from "./lib/npm-qemu-qmp.ts";
import { qapiJobs } from "./lib/qmpkit-qapi.ts";
import {
  megabytesPerSec,
  millis,
  perOpMicros,
  perOpMillis,
  type Ref,
  type Row,
  type RssRow,
  ratePerSec,
  resultsTable,
  rssTable,
  sampleRss,
  type Unit,
  versusTable,
} from "./lib/report.ts";
import { qemuSpaced, resolveSchema } from "./lib/schema.ts";
import { cServer, qemuServer, qemuVersion } from "./lib/servers.ts";

interface Plan {
  readonly reps: number;
  readonly sizes: Sizes;
  /** workload 7: pipelined commands per run */
  readonly serverPipe: number;
  /** workload 6: stream size in bytes */
  readonly decodeBytes: number;
  /** workload 8: spawns per command */
  readonly cliRuns: number;
  /** workload 10: start-ups per contender and machine */
  readonly startups: number;
}

const FULL: Plan = {
  reps: 5,
  sizes: { connect: 1000, seq: 20_000, pipe: 100_000, schema: 50, events: 1_000_000 },
  serverPipe: 100_000,
  decodeBytes: 100e6,
  cliRuns: 20,
  startups: 10,
};

const QUICK: Plan = {
  reps: 5,
  sizes: { connect: 200, seq: 2000, pipe: 20_000, schema: 10, events: 100_000 },
  serverPipe: 20_000,
  decodeBytes: 10e6,
  cliRuns: 5,
  startups: 5,
};

/** One run of one contender may not take longer than this. */
const RUN_TIMEOUT_MS = 120_000;

const count = (n: number) => n.toLocaleString("en-US");

interface ClientWorkload {
  readonly num: number;
  readonly size: keyof Sizes;
  title(n: number): string;
  readonly unit: Unit;
  /** sample RSS before/after (workloads 3 and 5) */
  readonly rss: boolean;
  readonly needsEvents: boolean;
  run(c: Contender, t: Target, n: number): Promise<Measurement>;
}

const CLIENT_WORKLOADS: readonly ClientWorkload[] = [
  {
    num: 1,
    size: "connect",
    title: (n) => `connect+greeting+negotiate ×${count(n)}`,
    unit: perOpMicros("connect"),
    rss: false,
    needsEvents: false,
    run: (c, t, n) => c.connect(t, n),
  },
  {
    num: 2,
    size: "seq",
    title: (n) => `sequential query-status ×${count(n)}`,
    unit: perOpMicros("cmd"),
    rss: false,
    needsEvents: false,
    run: (c, t, n) => c.seq(t, n),
  },
  {
    num: 3,
    size: "pipe",
    title: (n) => `pipelined query-status ×${count(n)}`,
    unit: perOpMicros("cmd"),
    rss: true,
    needsEvents: false,
    run: (c, t, n) => c.pipe(t, n),
  },
  {
    num: 4,
    size: "schema",
    title: (n) => `query-qmp-schema ×${count(n)}`,
    unit: perOpMillis("reply"),
    rss: false,
    needsEvents: false,
    run: (c, t, n) => c.schema(t, n),
  },
  {
    num: 5,
    size: "events",
    title: (n) => `events ×${count(n)}, 1 listener`,
    unit: ratePerSec("M events/s", 1e6),
    rss: true,
    needsEvents: true,
    run: (c, t, n) => c.events(t, n, 1),
  },
  {
    num: 5,
    size: "events",
    title: (n) => `events ×${count(n)}, 10 listeners`,
    unit: ratePerSec("M events/s", 1e6),
    rss: true,
    needsEvents: true,
    run: (c, t, n) => c.events(t, n, 10),
  },
];

/** Something measured in a group: a client against a target, a server, a decoder, ... */
interface Job {
  readonly name: string;
  readonly ref?: Ref;
  /** warm it up once (JIT) before the measured repetitions; sample its RSS */
  readonly inProcess: boolean;
  run(n: number): Promise<Measurement>;
}

interface GroupOptions {
  readonly reps: number;
  readonly rss: boolean;
  /** called after a failed run, e.g. to restart a server still serving a hung client */
  readonly recover?: () => Promise<void>;
}

const rows: Row[] = [];
const rssRows: RssRow[] = [];

/** Run every job `reps` times, interleaved (rep 1 of each, then rep 2, ...), and keep a row per job. */
async function measureGroup(label: string, unit: Unit, jobs: readonly Job[], n: number, opts: GroupOptions) {
  progress(label);
  const state = jobs.map((job) => ({
    job,
    costs: [] as number[],
    failed: false,
    before: 0,
    rss: [] as number[],
  }));
  const attempt = async (s: (typeof state)[number], size: number, record: boolean) => {
    try {
      const m = await withTimeout(s.job.run(size), RUN_TIMEOUT_MS, `${s.job.name} (${label})`);
      if (!(m.ops > 0 && m.ns > 0)) throw new Error(`nonsense measurement ${JSON.stringify(m)}`);
      if (record) s.costs.push(m.ns / m.ops);
    } catch (err) {
      s.failed = true;
      if (isInterrupted()) return;
      notice(
        `${label}: ${s.job.name} failed, row dropped: ${err instanceof Error ? err.message : String(err)}`,
      );
      await opts.recover?.();
    }
  };
  for (const s of state) if (s.job.inProcess) await attempt(s, Math.max(1, Math.floor(n / 10)), false);
  for (let rep = 0; rep < opts.reps; rep++) {
    for (const s of state) {
      if (s.failed) continue;
      const sampled = opts.rss && s.job.inProcess;
      if (sampled && rep === 0) s.before = sampleRss();
      await attempt(s, n, true);
      // After every repetition: growth from the first to the last shows retention, not the heap's first sizing.
      if (sampled) s.rss.push(sampleRss());
    }
  }
  for (const s of state) {
    if (s.failed || s.costs.length === 0) continue;
    rows.push({ workload: label, impl: s.job.name, unit, costs: s.costs, ...refOf(s.job.ref) });
    if (opts.rss && s.job.inProcess)
      rssRows.push({ workload: label, impl: s.job.name, before: s.before, after: s.rss });
  }
}

const refOf = (ref: Ref | undefined) => (ref === undefined ? {} : { ref });

interface ServerHandle {
  readonly contender: ServerContender;
  target(): Target;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function startServer(contender: ServerContender, schemaPath: string): Promise<ServerHandle> {
  const dir = await tempDir(contender.name.replace(/[^a-z0-9]+/gi, "-").toLowerCase());
  const ctx = { dir: dir.path, schemaPath };
  let running: RunningServer = await contender.start(ctx);
  return {
    contender,
    target: () => ({ name: contender.name, address: running.address, events: contender.events }),
    async restart() {
      if (isInterrupted()) return;
      progress(`restarting ${contender.name}`);
      await running.stop().catch(() => {});
      await rm(running.address, { force: true });
      running = await contender.start(ctx);
    },
    async stop() {
      await running.stop();
      await dir.remove();
    },
  };
}

interface ClientEntry {
  readonly contender: Contender;
  readonly ref?: Ref;
}

async function clientWorkloads(
  server: ServerContender,
  clients: readonly ClientEntry[],
  plan: Plan,
  only: ReadonlySet<number>,
  schemaPath: string,
) {
  const workloads = CLIENT_WORKLOADS.filter((w) => only.has(w.num) && (server.events || !w.needsEvents));
  if (workloads.length === 0) return;
  let handle: ServerHandle;
  try {
    handle = await startServer(server, schemaPath);
  } catch (err) {
    notice(`${server.name} did not start, its rows are skipped: ${String(err)}`);
    return;
  }
  try {
    for (const w of workloads) {
      const n = server.sizes?.[w.size] ?? plan.sizes[w.size];
      const eligible = clients.filter(
        ({ contender: c }) =>
          (c.onlyWorkloads?.includes(w.num) ?? true) && (c.onlyTargets?.includes(server.name) ?? true),
      );
      const jobs: Job[] = eligible.map(({ contender, ref }) => ({
        name: contender.name,
        ...refOf(ref),
        inProcess: contender.inProcess,
        run: (size) => w.run(contender, handle.target(), size),
      }));
      await measureGroup(`${w.num}. ${w.title(n)} @ ${server.name}`, w.unit, jobs, n, {
        reps: plan.reps,
        rss: w.rss,
        recover: () => handle.restart(),
      });
    }
  } finally {
    await handle.stop();
  }
}

async function decoderWorkload(plan: Plan) {
  const stream = makeStream(plan.decodeBytes);
  const decoders: { d: DecoderContender; ref?: Ref }[] = [
    { d: splitOnly },
    { d: parseOnly() },
    { d: splitAndParse, ref: "bun" },
    ...plugged.decoders.map((d) => ({ d })),
  ];
  const jobs: Job[] = decoders.map(({ d, ref }) => ({
    name: d.name,
    ...refOf(ref),
    inProcess: true,
    async run() {
      d.prepare?.(stream.chunks);
      const t0 = Bun.nanoseconds();
      const messages = d.decode(stream.chunks);
      const ns = Bun.nanoseconds() - t0;
      if (messages !== stream.lines) throw new Error(`decoded ${messages} of ${stream.lines} messages`);
      return { ns, ops: stream.bytes };
    },
  }));
  const mb = (stream.bytes / 1e6).toFixed(0);
  await measureGroup(`6. frame+parse ${mb} MB in 64 KiB chunks`, megabytesPerSec, jobs, stream.bytes, {
    reps: plan.reps,
    rss: false,
  });
}

interface ServerEntry {
  readonly contender: ServerContender;
  readonly ref?: Ref;
}

async function serverWorkload(
  bins: Baselines | null,
  plan: Plan,
  schemaPath: string,
  servers: ServerEntry[],
) {
  if (bins === null) {
    notice("workload 7 needs the raw C client: skipped");
    return;
  }
  const handles: { handle: ServerHandle; ref?: Ref }[] = [];
  try {
    for (const { contender, ref } of servers.filter((x) => x.contender.asServer)) {
      try {
        handles.push({ handle: await startServer(contender, schemaPath), ...refOf(ref) });
      } catch (err) {
        notice(`${contender.name} did not start, its workload 7 row is skipped: ${String(err)}`);
      }
    }
    const jobs: Job[] = handles.map(({ handle: h, ref }) => ({
      name: h.contender.name,
      ...refOf(ref),
      inProcess: true,
      run: (n) => runCClient(bins.client, h.target().address, "pipe", n),
    }));
    await measureGroup(
      `7. server: ${count(plan.serverPipe)} pipelined cmds from raw C`,
      ratePerSec("k cmds/s", 1e3),
      jobs,
      plan.serverPipe,
      {
        reps: plan.reps,
        rss: false,
        recover: async () => {
          for (const { handle } of handles) await handle.restart();
        },
      },
    );
  } finally {
    for (const { handle } of handles) await handle.stop();
  }
}

/**
 * Workload 9 (issue 7's line): fetch + check the QAPI schema through QMPClient, generate the TS types, beside
 * JSON.parse of the same bytes. Fetches from the C server, else from the first other in-process-free target.
 */
async function qapiWorkload(plan: Plan, schemaPath: string, servers: readonly ServerEntry[]) {
  const source =
    servers.find((s) => s.ref === "c" && s.contender.asTarget) ??
    servers.find((s) => s.contender.asTarget && s.contender.sizes === undefined);
  if (source === undefined) {
    notice("workload 9 needs a target server to fetch the schema from: skipped");
    return;
  }
  let handle: ServerHandle;
  try {
    handle = await startServer(source.contender, schemaPath);
  } catch (err) {
    notice(`${source.contender.name} did not start, workload 9 is skipped: ${String(err)}`);
    return;
  }
  try {
    // The bytes a server sends: the schema re-spaced as QEMU writes JSON.
    const text = qemuSpaced(await Bun.file(schemaPath).text());
    const jobs: Job[] = qapiJobs(text, handle.target()).map((job) => ({
      name: job.name,
      ...refOf(job.ref),
      inProcess: true,
      run: (n) => job.run(n),
    }));
    const n = plan.sizes.schema;
    await measureGroup(`9. QAPI schema → TS types (issue 7), fetch ×${count(n)}`, millis, jobs, n, {
      reps: plan.reps,
      rss: false,
      recover: () => handle.restart(),
    });
  } finally {
    await handle.stop();
  }
}

function machine(): string {
  let model = "unknown CPU";
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? model;
  } catch {}
  return `${availableParallelism()} × ${model}`;
}

const showLoad = (load: readonly number[]) => load.map((l) => l.toFixed(2)).join(" ");

async function main() {
  const argv = Bun.argv.slice(2).filter((a) => a !== "--");
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      reps: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log("usage: bun run bench [-- --quick] [--only 1,2,3,4,5,6,7,8,9,10] [--reps N]");
    return;
  }
  const base = values.quick ? QUICK : FULL;
  const plan: Plan = values.reps === undefined ? base : { ...base, reps: Math.max(1, Number(values.reps)) };
  const only = new Set(
    values.only === undefined
      ? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
      : values.only.split(",").map((s) => Number(s.trim())),
  );
  const started = performance.now();
  const loadBefore = loadavg();
  const command = `bun run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`;

  const bins = await buildBaselines();
  const version = await qemuVersion();
  if (version === null) notice("qemu-system-x86_64 not found: the real-QEMU rows are skipped");
  const schemaPath = await resolveSchema();
  const npmMissing = npmQemuQmpMissing();
  if (npmMissing !== null && [1, 2, 3, 4, 5].some((w) => only.has(w))) {
    notice(`npm qemu-qmp rows are skipped: ${npmMissing}`);
  }

  const clients: ClientEntry[] = [
    ...(bins === null ? [] : [{ contender: cClient(bins), ref: "c" as const }]),
    { contender: rawBunClient(false) },
    { contender: rawBunClient(true), ref: "bun" },
    { contender: rawBunPromiseClient() },
    ...(npmMissing === null ? [{ contender: npmQemuQmpClient() }] : []),
    ...plugged.clients.map((contender) => ({ contender })),
  ];
  const servers: ServerEntry[] = [
    ...(bins === null ? [] : [{ contender: cServer(bins), ref: "c" as const }]),
    ...(version === null ? [] : [{ contender: qemuServer(version, values.quick) }]),
    { contender: rawBunServer, ref: "bun" },
    ...plugged.servers.map((contender) => ({ contender })),
  ];

  const targets = servers.filter((s) => s.contender.asTarget);
  if (targets.length === 0 && [1, 2, 3, 4, 5].some((w) => only.has(w))) {
    notice("no target server (C server, QEMU or a plugged one): workloads 1–5 are skipped");
  }
  for (const { contender } of targets) {
    await clientWorkloads(contender, clients, plan, only, schemaPath);
  }
  if (only.has(6)) await decoderWorkload(plan);
  if (only.has(7)) await serverWorkload(bins, plan, schemaPath, servers);
  if (only.has(8)) rows.push(...(await benchCli(plan.cliRuns)));
  if (only.has(9)) await qapiWorkload(plan, schemaPath, servers);
  if (only.has(10)) rows.push(...(await benchEmulatorStartup(plan.startups, version)));

  const wall = (performance.now() - started) / 1000;
  const header = [
    `date: ${new Date().toISOString()}`,
    `machine: ${machine()}`,
    `bun ${Bun.version}, QEMU ${version ?? "absent"}, ${plan.reps} repetitions, median shown`,
    `command: ${command}`,
    `wall time: ${wall.toFixed(1)} s`,
    // The machine is shared: how busy it was says how far to trust the absolute figures (ratios travel better).
    `load average (1, 5, 15 min): ${showLoad(loadBefore)} at the start, ${showLoad(loadavg())} at the end`,
  ].join("\n");
  // Issue 16's targets compare qmpkit with these three, each in the same run.
  const versus = versusTable(rows, "qmpkit QMPClient", [
    { label: "raw C", impl: "raw C" },
    { label: "raw Bun (promise+id)", impl: "raw Bun (promise+id)" },
    { label: "npm qemu-qmp", impl: "npm qemu-qmp (Node)" },
  ]);
  const text = [
    header,
    "",
    resultsTable(rows),
    ...(versus === null
      ? []
      : ["", "qmpkit QMPClient against the baselines, cost ratios (lower is better), same run:", "", versus]),
    ...(rssRows.length > 0
      ? [
          "",
          "RSS of the bench process, MiB, after a full GC: before the first repetition and after each, workloads 3 and 5:",
          "",
          rssTable(rssRows),
        ]
      : []),
    ...(allNotices().length > 0 ? ["", "notes:", ...allNotices().map((n) => `- ${n}`)] : []),
  ].join("\n");
  console.log(`\n${text}`);

  const out = join(BENCH_DIR, "results");
  await mkdir(out, { recursive: true });
  await writeFile(join(out, "latest.md"), `${text}\n`);
  await writeFile(
    join(out, "latest.json"),
    `${JSON.stringify({ command, plan, rows, rss: rssRows }, null, 2)}\n`,
  );
}

cleanupOnSignals();
try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
