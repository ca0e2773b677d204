// Pins the guest-agent part of @qmpkit/testkit's runtime surface.

import { expect, test } from "bun:test";
import * as testkit from "../src/index.ts";

test("@qmpkit/testkit exports exactly these guest-agent runtime names", () => {
  const qga = Object.keys(testkit).filter((name) => /qga|qemuga|qemu_ga/i.test(name));
  expect(qga.sort()).toEqual(
    [
      "createFakeQga",
      "DEFAULT_QEMU_GA_BINARY",
      "hasQemuGa",
      "QemuGaSpawnError",
      "requireQemuGa",
      "skipWithoutQemuGa",
      "spawnQemuGa",
    ].sort(),
  );
});
