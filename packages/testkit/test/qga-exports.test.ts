// Pins @qmpkit/testkit/qga, the fake guest agent and the qemu-ga launcher (the root is pinned in exports.test.ts).

import { expect, test } from "bun:test";
import { join } from "node:path";
import * as testkit from "../src/index.ts";
import * as qga from "../src/qga/index.ts";

test("@qmpkit/testkit/qga exports exactly these guest-agent runtime names", () => {
  expect(Object.keys(qga).sort()).toEqual(
    [
      "createFakeQGA",
      "DEFAULT_QEMU_GA_BINARY",
      "hasQemuGa",
      "QemuGaSpawnError",
      "requireQemuGa",
      "skipWithoutQemuGa",
      "spawnQemuGa",
    ].sort(),
  );
});

test("the root entry carries none of the guest agent", () => {
  expect(Object.keys(testkit).filter((name) => /qga|qemuga|qemu_ga/i.test(name))).toEqual([]);
});

test("@qmpkit/testkit/emulator exports exactly runEmulator", async () => {
  expect(Object.keys(await import("../src/emulator-only.ts"))).toEqual(["runEmulator"]);
});

test("package.json maps ., ./qga, ./fake, ./emulator and ./cli to entries that exist", async () => {
  const manifest = await Bun.file(join(import.meta.dir, "../package.json")).json();
  const entries = {
    ".": "./src/index.ts",
    "./qga": "./src/qga/index.ts",
    "./fake": "./src/fake-only.ts",
    "./emulator": "./src/emulator-only.ts",
    "./cli": "./src/cli.ts",
  };
  expect(manifest.exports).toEqual(
    Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, { types: v, default: v }])),
  );
  for (const file of Object.values(entries)) {
    expect(await Bun.file(join(import.meta.dir, "..", file)).exists()).toBe(true);
  }
});
