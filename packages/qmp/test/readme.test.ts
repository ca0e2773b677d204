// The README's snippets are runnable: each ```ts block (not ```ts no-run) runs as its own program against a
// fresh real QEMU, and must exit 0 with nothing on stderr.

import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QEMU_TEST_TIMEOUT_MS, requireQemu, skipWithoutQemu, spawnQemu } from "./helpers/qemu.ts";

const readme = await Bun.file(join(import.meta.dir, "../README.md")).text();
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
const entry = join(import.meta.dir, "../src/index.ts");

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

test("the README has runnable snippets", () => {
  expect(snippets.length).toBeGreaterThanOrEqual(6);
});

test.skipIf(skipWithoutQemu).each(snippets.map((code, i) => [i + 1, code] as const))(
  "README snippet %d runs against real QEMU",
  async (_, code) => {
    requireQemu();
    const qemu = spawnQemu();
    cleanups.push(() => qemu.stop());
    await qemu.ready();
    const dir = mkdtempSync(join(tmpdir(), "qmpkit-readme-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "snippet.ts");
    await Bun.write(file, code.replaceAll('"@qmpkit/qmp"', JSON.stringify(entry)));
    await using proc = Bun.spawn([process.execPath, file], {
      env: { ...process.env, QMP_SOCKET: qemu.socketPath, QMPKIT_DEBUG: "" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill(), 15_000);
    const [stdout, stderr, exitCode] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    clearTimeout(timer);
    expect(stderr).toBe("");
    expect(exitCode).toBe(0);
    if (process.env.README_SNIPPETS_VERBOSE) console.log(stdout);
    expect(stdout.length).toBeGreaterThan(0);
  },
  QEMU_TEST_TIMEOUT_MS,
);
