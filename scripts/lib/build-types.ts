/**
 * Emits a package's declaration files (`dist/types/**.d.ts` + maps) from its `src/`, with the workspace's own
 * compiler options. The packages ship their TypeScript source for Bun to run, and these declarations for a
 * consumer's `tsc`: a `.ts` file inside node_modules is type-checked with the consumer's options, and ours import
 * with `.ts` extensions, which a tsconfig without `allowImportingTsExtensions` rejects (TS5097). Declarations are
 * skipped by `skipLibCheck` and resolve `./x.ts` to `./x.d.ts`, so any consumer setup sees the same types.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { run } from "./tarball.ts";

/** The workspace root (this file is `scripts/lib/build-types.ts`). */
export const workspaceRoot = join(import.meta.dir, "..", "..");

/** Where a package's declarations go, relative to the package: also what its `files` and `exports` name. */
export const TYPES_DIR = "dist/types";

/**
 * Writes `<packageDir>/dist/types` afresh (stale declarations of deleted files must not ship) and returns its
 * path. Throws with tsc's output when the emit fails.
 *
 * @example
 * await buildTypes(join(workspaceRoot, "packages", "qmp"));
 */
export async function buildTypes(packageDir: string): Promise<string> {
  const distDir = join(packageDir, "dist");
  const outDir = join(packageDir, TYPES_DIR);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(distDir, { recursive: true });

  // The config lives in dist/ (gitignored) so `types: ["bun"]` resolves through the workspace's node_modules.
  const configPath = join(distDir, "tsconfig.types.json");
  const config = {
    extends: relative(distDir, join(workspaceRoot, "tsconfig.base.json")),
    compilerOptions: {
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      // Maps point "go to definition" in a consumer's editor at the shipped source rather than the .d.ts.
      declarationMap: true,
      rootDir: "../src",
      outDir: "./types",
    },
    include: ["../src"],
  };
  await Bun.write(configPath, `${JSON.stringify(config, null, 2)}\n`);

  const tsc = join(workspaceRoot, "node_modules", ".bin", "tsc");
  if (!existsSync(tsc)) throw new Error(`${tsc} is missing: run \`bun install\` at the workspace root first`);
  try {
    await run([tsc, "-p", configPath], { cwd: packageDir });
  } catch (error) {
    throw new Error(`tsc could not emit the declarations of ${packageDir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!existsSync(join(outDir, "index.d.ts"))) throw new Error(`tsc wrote no ${TYPES_DIR}/index.d.ts`);
  return outDir;
}

/** The body of each `packages/<name>/scripts/build.ts`: build the package the script lives in, report, exit. */
export async function buildTypesMain(packageDir: string): Promise<void> {
  const started = performance.now();
  const outDir = await buildTypes(packageDir);
  const ms = Math.round(performance.now() - started);
  console.log(`${relative(workspaceRoot, outDir)}: declarations written in ${ms} ms`);
}
