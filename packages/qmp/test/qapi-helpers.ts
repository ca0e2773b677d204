// Shared by the qapi-*.test.ts files (not a test file itself).

import { join } from "node:path";

export const repoRoot = join(import.meta.dir, "../../..");
export const fixturePath = join(repoRoot, "packages/testkit/fixtures/qemu-7.2-schema.json");
export const committedPath = join(import.meta.dir, "../src/qapi/qemu-7.2.ts");
/** The version the fixture was recorded from (see packages/testkit/fixtures/qemu-7.2-README.md). */
export const fixtureVersion = "7.2.22";

/** A generation whose generated types ship (`src/qapi/qemu-<tag>.ts`), and the schema they are generated from. */
export interface ShippedTypes {
  /** `major.minor`: the file names and the subpath export `@qmpkit/qmp/qapi/qemu-<tag>`. */
  readonly tag: string;
  /** The exact version the schema was recorded from, written in the generated header. */
  readonly version: string;
  readonly schemaPath: string;
  readonly typesPath: string;
}

/** Every generation the package ships types for; the golden test holds each file to its fixture. */
export const shippedTypes: readonly ShippedTypes[] = [
  { tag: "7.2", version: fixtureVersion, schemaPath: fixturePath, typesPath: committedPath },
  {
    tag: "10.0",
    version: "10.0.13",
    schemaPath: join(repoRoot, "packages/testkit/fixtures/qemu-10.0-schema.json"),
    typesPath: join(import.meta.dir, "../src/qapi/qemu-10.0.ts"),
  },
];

/** A tsconfig as strict as the repository's, with no ambient types, for a directory of generated files. */
export function strictTsconfig(files: string[]): unknown {
  return {
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: "ESNext",
      module: "Preserve",
      moduleResolution: "bundler",
      allowImportingTsExtensions: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      types: [],
    },
    files,
  };
}

/** Run the workspace's tsc on a project; resolves with its exit code and output. */
export async function runTsc(project: string): Promise<{ exitCode: number; output: string }> {
  // From the repository root, `bun x tsc` is the workspace's pinned typescript, never a download.
  const proc = Bun.spawn([process.execPath, "x", "tsc", "-p", project], {
    cwd: repoRoot,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { exitCode, output: (stdout + stderr).trim() };
}
