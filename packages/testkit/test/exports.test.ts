/** Pins the public surface of @qmpkit/testkit so it cannot drift unnoticed. */
import { expect, test } from "bun:test";
import * as testkit from "../src/index.ts";

test("the runtime exports are exactly these", () => {
  // The QEMU guest agent block (src/qga) is appended by its own owner; its names are checked there.
  const qga = new Set(Object.keys(testkit).filter((name) => /Qga|QemuGa|QEMU_GA/.test(name)));
  expect(
    Object.keys(testkit)
      .filter((name) => !qga.has(name))
      .sort(),
  ).toEqual(
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
      "QmpCommandError",
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
