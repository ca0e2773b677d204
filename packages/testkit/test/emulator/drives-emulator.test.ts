/**
 * `-drive` on the emulator: each command line of `drive-cases.ts`, run through `qmpkit fake-qemu` as a child
 * process, must start (or fail) as real QEMU 7.2 did and answer the block layer's listings, the device tree and
 * `query-pci` with QEMU's own texts (recorded in `fixtures/qemu-7.2-drives.json` by `scripts/record-drives.ts`).
 * With QEMU installed, a second test checks that the recording still matches the real binary.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import recorded from "../../fixtures/qemu-7.2-drives.json" with { type: "json" };
import { skipWithoutQemu } from "../../src/index.ts";
import {
  DRIVE_CASES,
  DRIVE_DIR,
  type DriveCase,
  driveCaseArgs,
  makeDriveImages,
  queryDrives,
} from "./drive-cases.ts";
import { runCase } from "./run-case.ts";

const MAIN = join(import.meta.dir, "..", "..", "..", "..", "apps", "qmpkit", "src", "main.ts");
const expected = recorded as Record<
  string,
  { stderr: string; status: number; started: boolean; replies: string[] }
>;

async function outcomeOf(command: readonly string[], testCase: DriveCase) {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-emu-drive-"));
  try {
    makeDriveImages(dir);
    let replies: string[] = [];
    const outcome = await runCase(
      command,
      driveCaseArgs(testCase),
      dir,
      DRIVE_DIR,
      {},
      {
        whileStarted: async (socket) => {
          replies = await queryDrives(socket, dir, testCase);
        },
      },
    );
    return { stderr: outcome.stderr, status: outcome.status, started: outcome.started, replies };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("-drive on fake-qemu shows what QEMU 7.2 shows", () => {
  for (const testCase of DRIVE_CASES) {
    test(testCase.name, async () => {
      const want = expected[testCase.name];
      if (want === undefined)
        throw new Error(`no recording for '${testCase.name}': run scripts/record-drives.ts`);
      expect(await outcomeOf(["bun", MAIN, "fake-qemu"], testCase)).toEqual(want);
    }, 20_000);
  }
});

describe.skipIf(skipWithoutQemu())("the drive recording still matches qemu-system-x86_64", () => {
  test("every case", async () => {
    for (const testCase of DRIVE_CASES) {
      const got = await outcomeOf(["qemu-system-x86_64"], testCase);
      expect({ name: testCase.name, ...got }).toEqual({
        name: testCase.name,
        ...(expected[testCase.name] ?? got),
      });
    }
  }, 60_000);
});
