// The compiled binary writing into a pipe whose reader goes away (`| head -1`): no stack trace, no process
// left behind holding QEMU's one monitor connection.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, constants, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { createFakeQemu, type FakeQemu } from "@qmpkit/testkit";
import { builtBinary, cleanEnv, removeScratch, run, scratchDir } from "./e2e-helpers.ts";
import { within } from "./harness.ts";

const fakes: FakeQemu[] = [];
// Compiling the binary may take a while on a loaded machine.
beforeAll(async () => {
  await builtBinary();
}, 120_000);
afterAll(removeScratch);
afterEach(async () => {
  for (const fake of fakes.splice(0)) await fake.close();
});

/** Runs `qmpkit ARGS | READER` in bash; resolves with qmpkit's own exit status and stderr. */
async function piped(args: readonly string[], reader: string): Promise<{ status: number; stderr: string }> {
  const errFile = join(scratchDir(), "stderr");
  const script = `"$@" 2>"${errFile}" | ${reader} >/dev/null; exit "\${PIPESTATUS[0]}"`;
  const result = await run(["bash", "-c", script, "bash", await builtBinary(), ...args], {
    timeoutMs: 20_000,
  });
  return { status: result.exitCode, stderr: await Bun.file(errFile).text() };
}

describe("a non-blocking pipe", () => {
  // perl stands in for a parent that leaves stdout non-blocking: it opens the FIFO, sets O_NONBLOCK and execs
  // qmpkit. The reader takes its time, so a long text meets a full pipe (a partial write, then EAGAIN).
  const NON_BLOCKING =
    'open(STDOUT, ">", shift) or die "open: $!"; fcntl(STDOUT, F_SETFL, fcntl(STDOUT, F_GETFL, 0) | O_NONBLOCK) or die "fcntl: $!"; exec @ARGV or die "exec: $!"';

  async function throughNonBlockingPipe(
    args: readonly string[],
  ): Promise<{ stdout: string; exitCode: number }> {
    const fifo = join(scratchDir(), "stdout");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const proc = Bun.spawn(["perl", "-MFcntl", "-e", NON_BLOCKING, fifo, await builtBinary(), ...args], {
        env: cleanEnv(),
        stdin: "ignore",
        stdout: "ignore",
        stderr: "inherit",
      });
      const chunks: Buffer[] = [];
      const buffer = Buffer.alloc(65536);
      const drain = async (): Promise<void> => {
        for (;;) {
          let n = -1;
          try {
            n = readSync(reader, buffer);
          } catch (error) {
            if ((error as { code?: unknown }).code !== "EAGAIN") throw error;
          }
          if (n > 0) chunks.push(Buffer.from(buffer.subarray(0, n)));
          // 0 bytes: no writer (not yet opened, or gone); once qmpkit has exited, everything it wrote was read.
          else if (n === 0 && proc.exitCode !== null) return;
          await Bun.sleep(10);
        }
      };
      await within(drain(), 20_000, "qmpkit's output");
      return { stdout: Buffer.concat(chunks).toString(), exitCode: await proc.exited };
    } finally {
      closeSync(reader);
    }
  }

  for (const command of ["query-status", "query-qmp-schema"]) {
    test.skipIf(Bun.which("perl") === null)(
      `exec --fake ${command}: the reply arrives once and whole`,
      async () => {
        const expected = await run([await builtBinary(), "exec", "--fake", command]);
        expect(expected.exitCode).toBe(0);
        expect(await throughNonBlockingPipe(["exec", "--fake", command])).toEqual({
          stdout: expected.stdout,
          exitCode: 0,
        });
      },
      30_000,
    );
  }
});

describe("a closed pipe", () => {
  for (const [args, reader] of [
    [["schema", "--fake", "--emit-ts"], "head -1"],
    [["exec", "--fake", "query-qmp-schema"], "head -c 100"],
    [["qom", "--fake", "tree", "/"], "head -2"],
  ] as const) {
    test(`qmpkit ${args.join(" ")} | ${reader}: no error output`, async () => {
      const { status, stderr } = await piped(args, reader);
      expect(stderr).toBe("");
      // All the output may fit in the pipe before the reader leaves (0), or the next write finds it gone (141).
      expect([0, 141]).toContain(status);
    }, 30_000);
  }

  test("events | head -1: exits at the next event and lets go of the monitor", async () => {
    const fake = await createFakeQemu();
    fakes.push(fake);
    const errFile = join(scratchDir(), "stderr");
    const proc = Bun.spawn(
      [
        "bash",
        "-c",
        `"$@" 2>"${errFile}" | head -1; exit "\${PIPESTATUS[0]}"`,
        "bash",
        await builtBinary(),
        "events",
        fake.address,
      ],
      { env: cleanEnv(), stdout: "pipe", stderr: "pipe", stdin: "ignore" },
    );
    try {
      // Wait for the client to negotiate (events are sent only after that), then send events until
      // qmpkit notices head is gone.
      const negotiated = () =>
        fake.received.some((r) => (r.message as { execute?: unknown }).execute === "qmp_capabilities");
      for (let i = 0; !negotiated(); i++) {
        if (i > 200) throw new Error("qmpkit events never connected");
        await Bun.sleep(25);
      }
      const output = new Response(proc.stdout).text();
      fake.emit("STOP");
      for (let i = 0; proc.exitCode === null && i < 200; i++) {
        fake.emit("RESUME");
        await Bun.sleep(25);
      }
      expect(await within(proc.exited, 10_000, "qmpkit events to exit")).toBe(141);
      expect(await Bun.file(errFile).text()).toBe("");
      expect(JSON.parse(await output).event).toBe("STOP");
      for (let i = 0; fake.clients.length > 0 && i < 200; i++) await Bun.sleep(25);
      expect(fake.clients).toEqual([]);
    } finally {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await proc.exited;
    }
  }, 30_000);
});
