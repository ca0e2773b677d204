/** Pins the public surface of @qmpkit/testkit so it cannot drift unnoticed. */
import { expect, test } from "bun:test";
import * as testkit from "../src/index.ts";

test("the runtime exports are exactly these", () => {
  // The guest agent's names are at @qmpkit/testkit/qga, pinned in qga-exports.test.ts.
  expect(Object.keys(testkit).sort()).toEqual(
    [
      "DEFAULT_QEMU10_BINARY",
      "DEFAULT_QEMU_ARGS",
      "FAKE_CLI_USAGE",
      "FakeQemu",
      "FakeQemuError",
      "MACHINES",
      "MachineProfile",
      "PROFILE_VERSIONS",
      "QEMU_7_2_VERSION",
      "QMPCommandError",
      "RawJson",
      "SpawnQemuError",
      "TranscriptError",
      "createFakeQemu",
      "encodeQemuJson",
      "faults",
      "hasQemu",
      "hasQemu10",
      "qemu10Binary",
      "loadProfile",
      "readTranscript",
      "recordTranscript",
      "replayTranscript",
      "requestKey",
      "requireQemu",
      "requireQemu10",
      "runEmulator",
      "runFakeCli",
      "skipWithoutQemu",
      "skipWithoutQemu10",
      "spawnQemu",
    ].sort(),
  );
});

test("faults offers every helper the issue lists", () => {
  expect(Object.keys(testkit.faults).sort()).toEqual(
    [
      "closeAfterBytes",
      "closeMidMessage",
      "delay",
      "duplicateReply",
      "eventFlood",
      "garbage",
      "hugeReply",
      "malformedGreeting",
      "missingId",
      "noGreeting",
      "reset",
      "slowGreeting",
      "splitReplies",
      "unsolicitedReply",
      "wrongId",
    ].sort(),
  );
});
