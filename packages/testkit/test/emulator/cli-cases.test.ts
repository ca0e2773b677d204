/**
 * Every command line of `cli-cases.ts`, run through `qmpkit fake-qemu` as a child process, must print what the
 * real QEMU printed (recorded per generation in `fixtures/qemu-<V>-cli-cases.json` by
 * `scripts/record-emulator.ts`) and exit with its status: the fake runs as 7.2, and as 10.0
 * (`QMPKIT_FAKE_QEMU_VERSION`), against each one's recording. Cases that start are stopped with SIGTERM once their
 * monitor answers, as the recorder does, so the termination line is compared too. With a real QEMU of that
 * generation here, a second test checks that the recording still matches it for the cases that exit at once.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import recorded72 from "../../fixtures/qemu-7.2-cli-cases.json" with { type: "json" };
import recorded100 from "../../fixtures/qemu-10.0-cli-cases.json" with { type: "json" };
import {
  type QemuRelease,
  qemu10Binary,
  requireQemu,
  requireQemu10,
  skipWithoutQemu,
  skipWithoutQemu10,
} from "../../src/index.ts";
import { CLI_CASE_DIR, CLI_CASES } from "./cli-cases.ts";
import { runCase } from "./run-case.ts";

const MAIN = join(import.meta.dir, "..", "..", "..", "..", "apps", "qmpkit", "src", "main.ts");
type Recording = Record<string, { stdout: string; stderr: string; status: number; started: boolean }>;

const GENERATIONS: {
  version: QemuRelease;
  recorded: Recording;
  qemu: () => string;
  skip: boolean;
  require: () => void;
}[] = [
  {
    version: "7.2",
    recorded: recorded72,
    qemu: () => "qemu-system-x86_64",
    skip: skipWithoutQemu(),
    require: () => requireQemu(),
  },
  {
    version: "10.0",
    recorded: recorded100,
    qemu: qemu10Binary,
    skip: skipWithoutQemu10(),
    require: requireQemu10,
  },
];

const KVM = existsSync("/dev/kvm");

// The QEMU 10.0 tree shares only /tmp with the host, so the cases' sockets live there for every generation.
const tempDir = (prefix: string) => mkdtempSync(join("/tmp", prefix));

for (const { version, recorded, qemu, skip, require } of GENERATIONS) {
  const cases = CLI_CASES.filter((c) => c.only === undefined || c.only === version);

  describe(`fake-qemu as ${version} fails and starts as QEMU ${version} does`, () => {
    for (const testCase of cases) {
      test.skipIf(testCase.withoutKvm === true && KVM)(
        testCase.name,
        async () => {
          const want = recorded[testCase.name];
          if (want === undefined)
            throw new Error(
              `no ${version} recording for '${testCase.name}': run scripts/record-emulator.ts --qemu-version ${version}`,
            );
          const dir = tempDir("qmpkit-emu-case-");
          try {
            const got = await runCase(["bun", MAIN, "fake-qemu"], testCase.args, dir, CLI_CASE_DIR, {
              QMPKIT_FAKE_QEMU_VERSION: version,
            });
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

  describe.skipIf(skip)(`the ${version} recording still matches the real QEMU ${version}`, () => {
    test("cases that exit at once", async () => {
      require();
      const dir = tempDir("qmpkit-emu-real-");
      try {
        for (const testCase of cases) {
          const want = recorded[testCase.name];
          // A QEMU that sees KVM does not fall back; the tree's 10.0 never sees it, the host's 7.2 may.
          if (want === undefined || want.started || (testCase.withoutKvm && KVM)) continue;
          const got = await runCase([qemu()], testCase.args, dir, CLI_CASE_DIR);
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
}

/**
 * Command lines real QEMU accepts but the fake does not model: each must fail at once, with status 1 and a
 * message that names what is not modelled, never start as something else.
 */
describe("fake-qemu refuses by name what it does not model", () => {
  const refused: [string, string[], string][] = [
    [
      "-machine pc",
      ["-machine", "pc"],
      "-machine pc-i440fx-7.2: qmpkit's fake QEMU models only the machines",
    ],
    ["-machine microvm", ["-machine", "microvm"], "-machine microvm: qmpkit's fake QEMU models only"],
    ["-machine isapc", ["-machine", "isapc,accel=tcg"], "-machine isapc: qmpkit's fake QEMU models only"],
    [
      "-drive on q35's default IDE",
      ["-machine", "q35", "-drive", "file=/dev/null,format=raw"],
      "-drive if=ide (the default on q35) is not modelled",
    ],
    [
      "-drive if=scsi",
      ["-machine", "q35", "-drive", "file=/dev/null,format=raw,if=scsi"],
      "-drive if=scsi is not modelled",
    ],
    [
      "-drive cache=",
      ["-machine", "q35", "-drive", "file=/dev/null,if=none,cache=none"],
      "the -drive option 'cache' is not modelled",
    ],
    [
      "-drive format=vmdk",
      ["-machine", "q35", "-drive", "file=/dev/null,if=none,format=vmdk"],
      "-drive format=vmdk is not modelled",
    ],
  ];
  for (const [name, args, message] of refused) {
    test(name, async () => {
      const dir = tempDir("qmpkit-emu-refused-");
      try {
        const qmp = ["-qmp", `unix:${CLI_CASE_DIR}/probe.sock,server=on,wait=off`];
        const got = await runCase(["bun", MAIN, "fake-qemu"], [...args, ...qmp], dir, CLI_CASE_DIR);
        expect({ started: got.started, status: got.status }).toEqual({ started: false, status: 1 });
        expect(got.stderr).toContain(message);
        expect(got.stderr.split("\n").filter((line) => line !== "")).toHaveLength(1);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 20_000);
  }
});
