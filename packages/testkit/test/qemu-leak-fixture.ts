/**
 * Run by spawn-qemu.test.ts as `bun test` on this file: one test leaks a QEMU (never disposed), one times out
 * inside its `await using` scope. Prints each QEMU's pid and dir so the parent can check both are gone after.
 */
import { test } from "bun:test";
import { spawnQemu } from "../src/index.ts";

test("leaks a QEMU", async () => {
  const qemu = await spawnQemu();
  console.log(`QEMU ${qemu.pid} ${qemu.path}`);
});

test("times out while holding a QEMU", async () => {
  await using qemu = await spawnQemu();
  console.log(`QEMU ${qemu.pid} ${qemu.path}`);
  await new Promise(() => {});
  // Long enough for QEMU to start on a loaded machine: the test must time out while holding it, not before.
}, 3000);
