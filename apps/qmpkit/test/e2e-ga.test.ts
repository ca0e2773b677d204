// `qmpkit ga` (the compiled binary) against the testkit's fake guest agent and a real qemu-ga.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { QMPCommandError } from "@qmpkit/testkit";
import {
  createFakeQGA,
  type FakeQGA,
  type FakeQGAOptions,
  type QemuGaProcess,
  requireQemuGa,
  skipWithoutQemuGa,
  spawnQemuGa,
} from "@qmpkit/testkit/qga";
import { builtBinary, cleanEnv, qmpkit, removeScratch, scratchDir } from "./e2e-helpers.ts";
import { within } from "./harness.ts";

const SLOW = 30_000;
const cleanups: (() => Promise<void>)[] = [];

// Compiling the binary may take a while on a loaded machine.
beforeAll(async () => {
  await builtBinary();
}, 120_000);
afterAll(removeScratch);
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fakeQGA(options: FakeQGAOptions = {}): Promise<FakeQGA> {
  const fake = await createFakeQGA(options);
  cleanups.push(() => fake.close());
  return fake;
}

const base64 = (text: string) => Buffer.from(text).toString("base64");

describe("ga against the fake agent", () => {
  test("a command prints its return value as JSON, even behind a stale sync reply", async () => {
    const fake = await fakeQGA({ faults: { staleSyncReply: true } });
    expect(await qmpkit(["ga", fake.address, "guest-ping"])).toEqual({
      exitCode: 0,
      stdout: "{}\n",
      stderr: "",
    });
    const info = await qmpkit(["ga", fake.address, "guest-info"]);
    expect(info.exitCode).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ version: "7.2.22" });
  });

  test("arguments use the shell's syntax; an agent error is 'ErrorClass: desc', exit 1", async () => {
    const fake = await fakeQGA();
    fake.handle("guest-file-open", (args) => {
      throw new QMPCommandError(
        "GenericError",
        `failed to open file '${String(args.path)}' (mode: '${String(args.mode)}'): No such file or directory`,
      );
    });
    expect(await qmpkit(["ga", fake.address, "guest-file-open", "path=/nope", "mode=r"])).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: "GenericError: failed to open file '/nope' (mode: 'r'): No such file or directory\n",
    });
    expect((await fake.waitFor("guest-file-open")).arguments).toEqual({ path: "/nope", mode: "r" });
  });

  test("exec -- PROGRAM ARGS: the program's output on ours, its exit status as ours", async () => {
    const fake = await fakeQGA();
    fake.handle("guest-exec", () => ({ pid: 42 }));
    fake.handle("guest-exec-status", () => ({
      exited: true,
      exitcode: 3,
      "out-data": base64("out\n"),
      "err-data": base64("err\n"),
    }));
    expect(await qmpkit(["ga", fake.address, "exec", "--", "/bin/sh", "-c", "exit 3"])).toEqual({
      exitCode: 3,
      stdout: "out\n",
      stderr: "err\n",
    });
    expect((await fake.waitFor("guest-exec")).arguments).toEqual({
      path: "/bin/sh",
      arg: ["-c", "exit 3"],
      "capture-output": true,
    });
  });

  test("exec passes piped stdin to the program as input-data, bytes intact; --no-stdin does not", async () => {
    const fake = await fakeQGA();
    fake.handle("guest-exec", () => ({ pid: 7 }));
    fake.handle("guest-exec-status", () => ({ exited: true, exitcode: 0 }));
    const input = "line 1\nline 2 \u00e9\n";
    expect(await qmpkit(["ga", fake.address, "exec", "--", "/bin/cat"], { stdin: input })).toEqual({
      exitCode: 0,
      stdout: "",
      stderr: "",
    });
    expect((await fake.waitFor("guest-exec")).arguments).toEqual({
      path: "/bin/cat",
      arg: [],
      "capture-output": true,
      "input-data": Buffer.from(input).toString("base64"),
    });
    expect(
      (await qmpkit(["ga", fake.address, "exec", "--no-stdin", "--", "/bin/cat"], { stdin: input })).exitCode,
    ).toBe(0);
    expect((await fake.waitFor("guest-exec", 2)).arguments).toEqual({
      path: "/bin/cat",
      arg: [],
      "capture-output": true,
    });
  });

  test("guest-get-time prints the agent's nanoseconds digit for digit (beyond 2^53)", async () => {
    const fake = await fakeQGA();
    fake.handle("guest-get-time", () => 1795686610763952123n);
    expect(await qmpkit(["ga", fake.address, "guest-get-time"])).toEqual({
      exitCode: 0,
      stdout: "1795686610763952123\n",
      stderr: "",
    });
  });

  test("no agent there: exit 2, one line naming the socket", async () => {
    const path = join(scratchDir(), "absent.sock");
    const { exitCode, stderr } = await qmpkit(["ga", path, "guest-ping"]);
    expect(exitCode).toBe(2);
    expect(stderr).toBe(
      `qmpkit: cannot connect to the guest agent at unix:${path}: Failed to establish connection: ENOENT: Failed to connect (no socket at that path)\n`,
    );
  });
});

describe("ga against a real qemu-ga (on this host)", () => {
  const skip = skipWithoutQemuGa();

  async function agent(): Promise<QemuGaProcess> {
    requireQemuGa();
    const ga = await spawnQemuGa();
    cleanups.push(() => ga.kill());
    return ga;
  }

  test.skipIf(skip)(
    "guest-ping, and guest-get-time as an integer of nanoseconds near our clock",
    async () => {
      const ga = await agent();
      expect(await qmpkit(["ga", ga.address, "guest-ping"])).toEqual({
        exitCode: 0,
        stdout: "{}\n",
        stderr: "",
      });
      const time = await qmpkit(["ga", ga.address, "guest-get-time"]);
      expect(time.exitCode).toBe(0);
      expect(time.stdout).toMatch(/^\d{19}\n$/);
      const printed = BigInt(time.stdout.trim());
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      expect(printed > nowNs - 60_000_000_000n && printed < nowNs + 60_000_000_000n).toBe(true);
    },
    SLOW,
  );

  test.skipIf(skip)(
    "exec -- /bin/sh -c …: output and exit status; an agent error exits 1",
    async () => {
      const ga = await agent();
      expect(
        await qmpkit(["ga", ga.address, "exec", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3"]),
      ).toEqual({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
      expect(await qmpkit(["ga", ga.address, "guest-file-open", "path=/nonexistent/x"])).toEqual({
        exitCode: 1,
        stdout: "",
        stderr: "GenericError: failed to open file '/nonexistent/x' (mode: 'r'): No such file or directory\n",
      });
    },
    SLOW,
  );

  test.skipIf(skip)(
    "exec -- /bin/cat gets our piped stdin",
    async () => {
      const ga = await agent();
      expect(await qmpkit(["ga", ga.address, "exec", "--", "/bin/cat"], { stdin: "to the guest\n" })).toEqual(
        {
          exitCode: 0,
          stdout: "to the guest\n",
          stderr: "",
        },
      );
    },
    SLOW,
  );

  test.skipIf(skip)(
    "exec -- passes the program's output through as bytes, not text (0xFF survives)",
    async () => {
      const ga = await agent();
      await using proc = Bun.spawn(
        [await builtBinary(), "ga", ga.address, "exec", "--", "/bin/sh", "-c", "printf 'a\\377b'"],
        { cwd: scratchDir(), env: cleanEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      );
      const stdout = new Response(proc.stdout).bytes();
      expect(await within(proc.exited, 15_000, "qmpkit ga exec")).toBe(0);
      expect([...(await stdout)]).toEqual([0x61, 0xff, 0x62]);
    },
    SLOW,
  );
});
