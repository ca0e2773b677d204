// Pins @qmpkit/qmp/qga, the guest-agent client's entry (the root entry is pinned in exports.test.ts).

import { expect, test } from "bun:test";
import * as qmp from "../src/index.ts";
import * as qga from "../src/qga/index.ts";

test("@qmpkit/qmp/qga exports exactly these guest-agent runtime names", () => {
  expect(Object.keys(qga).sort()).toEqual(
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
  expect([...qga.QGA_NO_REPLY_COMMANDS].sort()).toEqual([
    "guest-shutdown",
    "guest-suspend-disk",
    "guest-suspend-hybrid",
    "guest-suspend-ram",
  ]);
});

test("the root entry carries none of the guest agent", () => {
  expect(Object.keys(qmp).filter((name) => /qga/i.test(name))).toEqual([]);
});
