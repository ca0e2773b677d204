/**
 * `bun run pack`: one npm tarball per publishable package (`packages/*`), written to `dist/packages/`.
 *
 *   bun scripts/pack.ts [--out DIR]
 *
 * Per package: emit its declarations (its `scripts/build.ts`), `bun pm pack` it in place — Bun applies `files`
 * and turns `workspace:*` into the sibling's real version — then unpack that tarball, point each export's `types`
 * at the emitted `.d.ts` (in the repository they point at `src/` so the workspace type-checks against live source
 * without a build), add the root LICENSE, and `bun pm pack` the result again. Every tarball is then opened and
 * checked: one version for all, no `workspace:` left, every export target present, no tests shipped.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { TYPES_DIR, workspaceRoot } from "./lib/build-types.ts";
import { listTarball, readTarballJson, run } from "./lib/tarball.ts";

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  exports?: Record<string, { types?: string; default?: string }>;
  dependencies?: Record<string, string>;
}

/** A packed package: where its tarball went and what it holds. */
export interface PackedPackage {
  name: string;
  version: string;
  tarball: string;
  files: string[];
}

/** The publishable packages: every `packages/*` that is not private, in dependency order of their names. */
function publishableDirs(): string[] {
  const base = join(workspaceRoot, "packages");
  return readdirSync(base, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(base, e.name, "package.json")))
    .map((e) => join(base, e.name))
    .filter(
      (dir) => (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest).private !== true,
    )
    .sort();
}

/** `./src/x/y.ts` → `./dist/types/x/y.d.ts`: where tsc put the declarations of an exported source file. */
export function declarationPathFor(sourcePath: string): string {
  const match = /^\.\/src\/(.+)\.ts$/.exec(sourcePath);
  if (!match)
    throw new Error(`cannot map the export ${sourcePath} to a declaration file (expected ./src/*.ts)`);
  return `./${TYPES_DIR}/${match[1]}.d.ts`;
}

async function bunPmPack(cwd: string, destination: string): Promise<string> {
  // --ignore-scripts: nothing here relies on lifecycle scripts, and a pack must not run arbitrary ones.
  const out = await run(
    [process.execPath, "pm", "pack", "--quiet", "--ignore-scripts", "--destination", destination],
    {
      cwd,
    },
  );
  const tarball = out.trim().split("\n").at(-1) ?? "";
  if (!tarball.endsWith(".tgz") || !existsSync(tarball))
    throw new Error(`bun pm pack in ${cwd} printed: ${out}`);
  return tarball;
}

async function packOne(dir: string, outDir: string, scratch: string): Promise<PackedPackage> {
  const buildScript = join(dir, "scripts", "build.ts");
  if (!existsSync(buildScript)) throw new Error(`${relative(workspaceRoot, buildScript)} is missing`);
  await run([process.execPath, buildScript], { cwd: workspaceRoot });

  const raw = await bunPmPack(dir, join(scratch, "raw"));
  const stage = join(scratch, "stage", relative(join(workspaceRoot, "packages"), dir));
  mkdirSync(stage, { recursive: true });
  await run(["tar", "-xzf", raw, "-C", stage]);
  const staged = join(stage, "package");

  const manifestPath = join(staged, "package.json");
  const manifest = (await Bun.file(manifestPath).json()) as Manifest;
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    if (target.types === undefined) throw new Error(`${manifest.name}: export "${subpath}" names no types`);
    const types = declarationPathFor(target.types);
    if (!existsSync(join(staged, types))) {
      throw new Error(
        `${manifest.name}: ${types} (for export "${subpath}") was not emitted or is not in "files"`,
      );
    }
    target.types = types;
  }
  await Bun.write(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(join(workspaceRoot, "LICENSE"), join(staged, "LICENSE"));

  const tarball = await bunPmPack(staged, outDir);
  return { name: manifest.name, version: manifest.version, tarball, files: await listTarball(tarball) };
}

/** What a consumer relies on, checked in the tarball itself rather than in the files it was made from. */
async function verify(packed: PackedPackage, all: PackedPackage[]): Promise<void> {
  const manifest = (await readTarballJson(packed.tarball, "package/package.json")) as Manifest;
  const problems: string[] = [];
  const has = (path: string) => packed.files.includes(`package/${path.replace(/^\.\//, "")}`);
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    for (const [condition, path] of Object.entries(target)) {
      if (typeof path !== "string" || !has(path))
        problems.push(`export "${subpath}" ${condition}: ${path} missing`);
    }
    if (!target.types?.endsWith(".d.ts"))
      problems.push(`export "${subpath}" types is not a .d.ts: ${target.types}`);
  }
  for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
    const sibling = all.find((p) => p.name === dep);
    if (range.startsWith("workspace:")) problems.push(`dependency ${dep} is still ${range}`);
    else if (sibling && range !== sibling.version)
      problems.push(`dependency ${dep}@${range}, packed ${sibling.version}`);
  }
  if (!has("LICENSE")) problems.push("LICENSE missing");
  const tests = packed.files.filter((f) => /^package\/test\/|\.test\.ts$/.test(f));
  if (tests.length > 0) problems.push(`ships tests: ${tests.join(", ")}`);
  if (problems.length > 0) throw new Error(`${packed.name}: ${problems.join("; ")}`);
}

/**
 * Packs every publishable package into `outDir` (emptied of earlier tarballs first) and verifies each tarball.
 *
 * @example
 * const packed = await packAll(join(workspaceRoot, "dist", "packages"));
 */
export async function packAll(outDir: string): Promise<PackedPackage[]> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), "qmpkit-pack-"));
  try {
    const packed: PackedPackage[] = [];
    for (const dir of publishableDirs()) packed.push(await packOne(dir, outDir, scratch));
    const versions = new Set(packed.map((p) => p.version));
    if (versions.size !== 1) {
      throw new Error(
        `the packages must share one version: ${packed.map((p) => `${p.name}@${p.version}`).join(", ")}`,
      );
    }
    for (const p of packed) await verify(p, packed);
    return packed;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: "string" } } });
  const outDir = values.out ?? join(workspaceRoot, "dist", "packages");
  for (const p of await packAll(outDir)) {
    const kib = (Bun.file(p.tarball).size / 1024).toFixed(1);
    console.log(
      `${p.name}@${p.version}  ${relative(process.cwd(), p.tarball)}  (${p.files.length} files, ${kib} KiB)`,
    );
  }
}
