// The README's test files are runnable: each ```ts block that is a whole test file (it imports bun:test) runs under
// `bun test` as a file of its own, with the package names pointing at this workspace, and every test in it must
// pass. Blocks without that import are fragments of a larger example.

import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../../..");
const readme = await Bun.file(join(import.meta.dir, "../README.md")).text();
const testFiles = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
  .map((m) => m[1] as string)
  .filter((code) => code.includes('from "bun:test"'));
// Inside the workspace so `bun:test` and the packages' own dependencies resolve as they do for our tests.
mkdirSync(join(root, ".tmp"), { recursive: true });
const dir = mkdtempSync(join(root, ".tmp", "readme-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the README opens with a VM manager's test, and has more", () => {
  expect(testFiles.length).toBeGreaterThanOrEqual(2);
  expect(testFiles[0]).toContain("a VM manager hotplugs a disk, mirrors it to READY and migrates the VM");
});

test.each(testFiles.map((code, i) => [i + 1, code] as const))(
  "README test file %d passes under bun test",
  async (index, code) => {
    const file = join(dir, `readme-${index}.test.ts`);
    await Bun.write(
      file,
      code
        .replaceAll('"@qmpkit/qmp"', JSON.stringify(join(root, "packages/qmp/src/index.ts")))
        .replaceAll('"@qmpkit/testkit"', JSON.stringify(join(root, "packages/testkit/src/index.ts"))),
    );
    await using proc = Bun.spawn([process.execPath, "test", "--timeout", "20000", file], {
      cwd: root,
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill(), 60_000);
    const [, stderr, exitCode] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    clearTimeout(timer);
    expect({ exitCode, failed: /\b0 fail\b/.test(stderr) ? "" : stderr }).toEqual({
      exitCode: 0,
      failed: "",
    });
    expect(stderr).toMatch(/\b[1-9]\d* pass\b/);
  },
  90_000,
);
