#!/usr/bin/env bun
/**
 * Records what real QEMU 7.2 shows for the `-drive` command lines of `test/emulator/drive-cases.ts`: the process's
 * outcome (stderr, exit status) and the replies to the case's queries, into `fixtures/qemu-7.2-drives.json`.
 * `drives-emulator.test.ts` replays them against the emulator.
 *
 *   bun packages/testkit/scripts/record-drives.ts [--binary qemu-system-x86_64]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DRIVE_CASES,
  DRIVE_DIR,
  driveCaseArgs,
  makeDriveImages,
  queryDrives,
} from "../test/emulator/drive-cases.ts";
import { runCase } from "../test/emulator/run-case.ts";

const binaryFlag = process.argv.indexOf("--binary");
const binary = binaryFlag > 0 ? (process.argv[binaryFlag + 1] ?? "qemu-system-x86_64") : "qemu-system-x86_64";
const fixture = join(import.meta.dir, "..", "fixtures", "qemu-7.2-drives.json");

const record: Record<string, { stderr: string; status: number; started: boolean; replies: string[] }> = {};
for (const testCase of DRIVE_CASES) {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-record-drives-"));
  try {
    makeDriveImages(dir);
    let replies: string[] = [];
    const outcome = await runCase(
      [binary],
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
    record[testCase.name] = {
      stderr: outcome.stderr,
      status: outcome.status,
      started: outcome.started,
      replies,
    };
    process.stderr.write(`${testCase.name}: ${outcome.started ? "started" : `exit ${outcome.status}`}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
writeFileSync(fixture, `${JSON.stringify(record, null, 1)}\n`);
process.stderr.write(`wrote ${fixture}\n`);
