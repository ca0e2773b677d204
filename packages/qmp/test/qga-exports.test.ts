// Pins the guest-agent part of @qmpkit/qmp's runtime surface (the rest is pinned in exports.test.ts).

import { expect, test } from "bun:test";
import * as qmp from "../src/index.ts";

test("@qmpkit/qmp exports exactly these guest-agent runtime names", () => {
  const qga = Object.keys(qmp).filter((name) => /qga/i.test(name));
  expect(qga.sort()).toEqual(
    [
      "QGA_NO_REPLY_COMMANDS",
      "QGAClient",
      "QGAError",
      "QGAExecTimeoutError",
      "QGAInterruptedError",
      "QGASyncError",
      "QGATimeoutError",
      "QGAVsockUnsupportedError",
    ].sort(),
  );
  expect([...qmp.QGA_NO_REPLY_COMMANDS].sort()).toEqual([
    "guest-shutdown",
    "guest-suspend-disk",
    "guest-suspend-hybrid",
    "guest-suspend-ram",
  ]);
});
