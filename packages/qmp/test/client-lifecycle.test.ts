// Process-level behaviour, in child processes: nothing leaks or warns when QEMU dies unattended.

import { expect, test } from "bun:test";
import { join } from "node:path";
import { QEMU_TEST_TIMEOUT_MS, skipWithoutQemu } from "./helpers/qemu.ts";

test.skipIf(skipWithoutQemu)(
  "QEMU dying mid-session without disconnect(): the program exits 0 on its own, stderr empty",
  async () => {
    await using proc = Bun.spawn([process.execPath, join(import.meta.dir, "helpers/qemu-dies-fixture.ts")], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, QMPKIT_DEBUG: "" },
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
    expect(JSON.parse(stdout)).toEqual({
      names: ["ExecInterruptedError", "ExecInterruptedError"],
      runstate: "DISCONNECTING",
    });
  },
  QEMU_TEST_TIMEOUT_MS,
);
