/**
 * Proves the packages work outside the workspace: packs them, copies each `examples/<name>/` with the tarballs
 * into a fresh temp dir (same relative layout, so the examples' `file:../../dist/packages/…` paths hold), installs
 * from the tarballs, type-checks with the example's own ordinary tsconfig, and runs its `bun test` suite.
 *
 *   bun scripts/check-examples.ts [--junit-dir DIR] [--no-pack] [--keep]
 *
 * Every check is written as JUnit (`examples-checks.xml`, and `examples-<name>.xml` from each `bun test`) into
 * DIR — default `$QMPKIT_JUNIT_DIR`, else `.tmp/junit-examples` — so scripts/junit-summary.ts counts them. Exits
 * non-zero when anything failed.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { workspaceRoot } from "./lib/build-types.ts";
import { type CheckResult, junitReport } from "./lib/junit-write.ts";
import { run } from "./lib/tarball.ts";
import { type PackedPackage, packAll } from "./pack.ts";

const { values } = parseArgs({
  options: { "junit-dir": { type: "string" }, "no-pack": { type: "boolean" }, keep: { type: "boolean" } },
});
const junitDir = resolve(
  values["junit-dir"] ?? process.env.QMPKIT_JUNIT_DIR ?? join(workspaceRoot, ".tmp", "junit-examples"),
);
if (values["junit-dir"] === undefined && process.env.QMPKIT_JUNIT_DIR === undefined) {
  rmSync(junitDir, { recursive: true, force: true });
}
mkdirSync(junitDir, { recursive: true });
const packDir = join(workspaceRoot, "dist", "packages");

interface Manifest {
  name?: string;
  version?: string;
  exports?: Record<string, { types?: string }>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  overrides?: Record<string, string>;
}

/**
 * Type-level probes written next to an example's sources in the temp copy: each `@ts-expect-error` line must be
 * a real error, so if the consumer saw `any` instead of our types (a declaration that failed to resolve), the
 * directive itself fails the type-check (TS2578).
 */
const PROBES: Record<string, string> = {
  "@qmpkit/qmp": `import { connect, ExecuteError } from "@qmpkit/qmp";
export async function probeQMP(address: string): Promise<void> {
  const client = await connect(address);
  const { status } = await client.execute("query-status");
  // @ts-expect-error a run state is a string union, not a number
  const asNumber: number = status;
  // @ts-expect-error an unknown command name is a compile error (executeUntyped is the escape hatch)
  await client.execute("no-such-command");
  // @ts-expect-error blockdev-del's node-name is a string
  await client.execute("blockdev-del", { "node-name": 42 });
  const error: unknown = undefined;
  if (error instanceof ExecuteError) {
    // @ts-expect-error errorClass is a string
    const asBoolean: boolean = error.errorClass;
    void asBoolean;
  }
  void asNumber;
}
`,
  "@qmpkit/testkit": `import { createFakeQemu, faults } from "@qmpkit/testkit";
export async function probeTestkit(): Promise<void> {
  // @ts-expect-error multiClient is a boolean
  await using fake = await createFakeQemu({ multiClient: "yes" });
  // @ts-expect-error faults.delay takes a command name and milliseconds
  fake.inject(faults.delay(50));
  fake.handle("query-name", () => ({ name: "vm1" }));
}
`,
};

const results: CheckResult[] = [];

/** Runs one check, records it, and returns whether it passed. Skipped (recorded) when `blocked` names a reason. */
async function check(name: string, blocked: string | undefined, body: () => Promise<void>): Promise<boolean> {
  if (blocked !== undefined) {
    results.push({ name, outcome: "skipped", ms: 0, detail: blocked });
    console.log(`- ${name} (skipped: ${blocked})`);
    return false;
  }
  const started = performance.now();
  try {
    await body();
    const ms = performance.now() - started;
    results.push({ name, outcome: "passed", ms });
    console.log(`✓ ${name} [${Math.round(ms)} ms]`);
    return true;
  } catch (error) {
    const ms = performance.now() - started;
    const detail = error instanceof Error ? error.message : String(error);
    results.push({ name, outcome: "failed", ms, detail });
    console.log(`✗ ${name} [${Math.round(ms)} ms]\n${detail.replace(/^/gm, "    ")}`);
    return false;
  }
}

/** The `file:` paths an example's manifest names, each required to exist relative to the example's copy. */
function checkTarballPaths(manifest: Manifest, dir: string, packed: PackedPackage[]): void {
  const specs = { ...manifest.dependencies, ...manifest.devDependencies, ...manifest.overrides };
  for (const [name, spec] of Object.entries(specs)) {
    if (!name.startsWith("@qmpkit/")) continue;
    const target = spec.startsWith("file:") ? resolve(dir, spec.slice("file:".length)) : undefined;
    if (target === undefined || !existsSync(target)) {
      const made = packed.map((p) => relative(workspaceRoot, p.tarball)).join(", ");
      throw new Error(
        `${name}: "${spec}" is not a tarball bun run pack made (made: ${made}); after a version bump, update the example`,
      );
    }
  }
}

/** What was installed is our tarball: the packed version, and types pointing at declarations. */
async function checkInstalled(dir: string, packed: PackedPackage[]): Promise<void> {
  for (const p of packed) {
    const path = join(dir, "node_modules", p.name, "package.json");
    if (!existsSync(path)) continue; // not every example uses every package directly
    const manifest = (await Bun.file(path).json()) as Manifest;
    const types = Object.values(manifest.exports ?? {}).map((e) => e.types ?? "");
    if (manifest.version !== p.version || !types.every((t) => t.endsWith(".d.ts"))) {
      throw new Error(
        `${path} is not the packed ${p.name}@${p.version}: version ${manifest.version}, types ${types}`,
      );
    }
  }
}

/** tsc must read our packages only through their declarations: a `.ts` source there means the types leaked. */
function checkListedFiles(listing: string): void {
  const ours = listing.split("\n").filter((f) => f.includes("/node_modules/@qmpkit/"));
  if (ours.length === 0)
    throw new Error("tsc read no file of @qmpkit/*: the example does not import the packages");
  const sources = ours.filter((f) => !f.endsWith(".d.ts"));
  if (sources.length > 0)
    throw new Error(`tsc type-checked package sources instead of declarations:\n${sources.join("\n")}`);
}

/** Totals from a `bun test` JUnit report (null when it is missing or unreadable). */
async function reportTotals(file: string): Promise<{ tests: number; failed: number } | null> {
  if (!existsSync(file)) return null;
  const xml = await Bun.file(file).text();
  const get = (name: string) =>
    Number(new RegExp(`<testsuites\\b[^>]*\\s${name}="(\\d+)"`).exec(xml)?.[1] ?? Number.NaN);
  const tests = get("tests");
  return Number.isNaN(tests) ? null : { tests, failed: (get("failures") || 0) + (get("errors") || 0) };
}

async function checkExample(source: string, scratch: string, packed: PackedPackage[]): Promise<void> {
  const name = basename(source);
  const dir = join(scratch, "examples", name);
  cpSync(source, dir, {
    recursive: true,
    filter: (path) => !["node_modules", "bun.lock", "bun.lockb"].includes(basename(path)),
  });
  const manifest = (await Bun.file(join(dir, "package.json")).json()) as Manifest;
  const tsc = join(dir, "node_modules", ".bin", "tsc");

  const installed = await check(`${name}: bun install from the packed tarballs`, undefined, async () => {
    checkTarballPaths(manifest, dir, packed);
    await run([process.execPath, "install"], { cwd: dir });
    await checkInstalled(dir, packed);
  });

  const direct = { ...manifest.dependencies, ...manifest.devDependencies };
  await check(
    `${name}: tsc --noEmit with the example's tsconfig`,
    installed ? undefined : "install failed",
    async () => {
      for (const [pkg, probe] of Object.entries(PROBES)) {
        if (pkg in direct) await Bun.write(join(dir, `qmpkit-probe-${basename(pkg)}.ts`), probe);
      }
      await run([tsc, "--noEmit", "-p", "."], { cwd: dir });
      checkListedFiles(await run([tsc, "-p", ".", "--listFilesOnly"], { cwd: dir }));
    },
  );

  // The suite's own tests land in its report; this check only catches a run that failed without saying so there.
  const report = join(junitDir, `examples-${name}.xml`);
  rmSync(report, { force: true });
  const testName = `${name}: bun test exits 0 and reports every test`;
  await check(testName, installed ? undefined : "install failed", async () => {
    const proc = Bun.spawn(
      [process.execPath, "test", "--timeout", "20000", "--reporter=junit", `--reporter-outfile=${report}`],
      { cwd: dir, stdin: "ignore", stdout: "inherit", stderr: "inherit" },
    );
    const code = await proc.exited;
    const totals = await reportTotals(report);
    if (totals === null) throw new Error(`bun test exited ${code} and wrote no JUnit report`);
    if (totals.tests === 0) throw new Error("bun test found no tests");
    if (code !== 0 && totals.failed === 0)
      throw new Error(`bun test exited ${code} with no failure in its report`);
    if (code !== 0) throw new Error(`${totals.failed} test(s) failed (listed in ${basename(report)})`);
  });
}

async function describeTarball(tarball: string): Promise<PackedPackage> {
  const out = await run(["tar", "-xzOf", tarball, "package/package.json"]);
  const manifest = JSON.parse(out) as Manifest;
  return { name: manifest.name ?? "", version: manifest.version ?? "", tarball, files: [] };
}

const examples = readdirSync(join(workspaceRoot, "examples"), { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(workspaceRoot, "examples", e.name, "package.json")))
  .map((e) => join(workspaceRoot, "examples", e.name))
  .sort();

let packed: PackedPackage[] = [];
const packedOk = await check("bun run pack: one verified tarball per package", undefined, async () => {
  if (values["no-pack"]) {
    const tarballs = existsSync(packDir) ? readdirSync(packDir).filter((f) => f.endsWith(".tgz")) : [];
    if (tarballs.length === 0) throw new Error(`--no-pack, but ${packDir} holds no tarball`);
    packed = await Promise.all(tarballs.map((f) => describeTarball(join(packDir, f))));
  } else {
    packed = await packAll(packDir);
  }
});

const scratch = mkdtempSync(join(tmpdir(), "qmpkit-examples-"));
try {
  mkdirSync(join(scratch, "dist", "packages"), { recursive: true });
  for (const p of packed) cpSync(p.tarball, join(scratch, "dist", "packages", basename(p.tarball)));
  for (const example of examples) {
    if (packedOk) await checkExample(example, scratch, packed);
    else await check(`${basename(example)}: install, type-check, test`, "packing failed", async () => {});
  }
} finally {
  if (values.keep) console.log(`kept ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
}

await Bun.write(join(junitDir, "examples-checks.xml"), junitReport("examples", results));
const failed = results.filter((r) => r.outcome === "failed").length;
console.log(
  `examples: ${results.length - failed} of ${results.length} checks passed (${examples.length} examples)`,
);
process.exit(failed > 0 || examples.length === 0 ? 1 : 0);
