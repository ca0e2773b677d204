/**
 * Every command line of `cli-cases.ts`, run through `qmpkit fake-qemu` as a child process, must print what the
 * real QEMU 7.2 printed (recorded in `fixtures/qemu-7.2-cli-cases.json` by `scripts/record-emulator.ts`) and
 * exit with its status. Cases that start are stopped with SIGTERM once their monitor answers, as the recorder
 * does, so the termination line is compared too. With QEMU installed, a second test checks that the recording
 * still matches the real binary for the cases that exit at once.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import recorded from "../../fixtures/qemu-7.2-cli-cases.json" with { type: "json" };
import { skipWithoutQemu } from "../../src/index.ts";
import { CLI_CASE_DIR, CLI_CASES } from "./cli-cases.ts";
import { runCase } from "./run-case.ts";

const MAIN = join(import.meta.dir, "..", "..", "..", "..", "apps", "qmpkit", "src", "main.ts");
const expected = recorded as Record<
  string,
  { stdout: string; stderr: string; status: number; started: boolean }
>;

describe("fake-qemu fails and starts as QEMU 7.2 does", () => {
  for (const testCase of CLI_CASES) {
    test.skipIf(testCase.withoutKvm === true && existsSync("/dev/kvm"))(
      testCase.name,
      async () => {
        const want = expected[testCase.name];
        if (want === undefined)
          throw new Error(`no recording for '${testCase.name}': run scripts/record-emulator.ts`);
        const dir = mkdtempSync(join(tmpdir(), "qmpkit-emu-case-"));
        try {
          const got = await runCase(["bun", MAIN, "fake-qemu"], testCase.args, dir, CLI_CASE_DIR);
          expect({
            started: got.started,
            status: got.status,
            stderr: got.stderr,
            stdout: got.stdout,
          }).toEqual({
            started: want.started,
            status: want.status,
            stderr: want.stderr,
            stdout: want.stdout,
          });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
      20_000,
    );
  }
});

describe.skipIf(skipWithoutQemu())("the recording still matches qemu-system-x86_64", () => {
  test("cases that exit at once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qmpkit-emu-real-"));
    try {
      for (const testCase of CLI_CASES) {
        const want = expected[testCase.name];
        if (want === undefined || want.started || (testCase.withoutKvm && existsSync("/dev/kvm"))) continue;
        const got = await runCase(["qemu-system-x86_64"], testCase.args, dir, CLI_CASE_DIR);
        expect({ name: testCase.name, status: got.status, stderr: got.stderr }).toEqual({
          name: testCase.name,
          status: want.status,
          stderr: want.stderr,
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
