// Runs vm-status.ts as a user would — a separate process — against the testkit's fake QEMU, and against a real
// QEMU it starts itself. Each wait is bounded; the script's output lines are the synchronisation points.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { connect } from "@qmpkit/qmp";
import { createFakeQemu, requireQemu, skipWithoutQemu } from "@qmpkit/testkit";

const SCRIPT = join(import.meta.dir, "vm-status.ts");

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const started = new Set<Bun.Subprocess>();

// A test that failed midway leaves its vm-status running (bun test does not end it): Ctrl-C it, which also
// removes a QEMU it started, or kill it after a bound (spawnQemu's watchdog then removes the QEMU).
afterEach(async () => {
  for (const proc of started) {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGINT");
      await within(proc.exited, 5_000, "vm-status to exit on SIGINT").catch(() => proc.kill("SIGKILL"));
      await proc.exited;
    }
  }
  started.clear();
});

/** vm-status.ts running, with its stdout collected and awaitable line by line. */
function start(args: string[]) {
  const proc = Bun.spawn([process.execPath, SCRIPT, ...args], { stdout: "pipe", stderr: "pipe" });
  started.add(proc);
  let text = "";
  let closed = false;
  let changed = Promise.withResolvers<void>();
  const done = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      text += decoder.decode(chunk, { stream: true });
      changed.resolve();
      changed = Promise.withResolvers<void>();
    }
    closed = true;
    changed.resolve();
  })();
  const stderr = new Response(proc.stderr).text();
  return {
    proc,
    stdout: () => text,
    stderr: () => stderr,
    /** Resolves with the first line matching `pattern`, printed already or later; rejects if stdout ends first. */
    async line(pattern: RegExp): Promise<string> {
      for (;;) {
        const found = text.split("\n").find((l) => pattern.test(l));
        if (found !== undefined) return found;
        if (closed)
          throw new Error(`stdout ended before a line matching ${pattern}:\n${text}${await stderr}`);
        await changed.promise;
      }
    },
    async exited(): Promise<number> {
      const code = await proc.exited;
      await done;
      return code;
    },
  };
}

test("prints a fake QEMU's status and the events it sends, then stops after --exit-after-events", async () => {
  await using fake = await createFakeQemu({ status: "paused" });
  const run = start([fake.address, "--exit-after-events", "2"]);
  expect(await within(run.line(/^status:/), 10_000, "the status line")).toBe(
    "status: paused (running: false)",
  );
  await within(run.line(/^tailing events/), 5_000, "the tail to start");

  fake.emit("RESUME");
  fake.emit("SHUTDOWN", { guest: true, reason: "guest-shutdown" });

  expect(await within(run.exited(), 10_000, "vm-status to exit")).toBe(0);
  const lines = run.stdout().trim().split("\n");
  expect(lines[0]).toMatch(/^connected to QEMU 7\.2\.\d+ at unix:/);
  expect(lines.filter((l) => / (RESUME|SHUTDOWN) /.test(l))).toEqual([
    expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z RESUME \{\}$/),
    expect.stringMatching(/ SHUTDOWN \{"guest":true,"reason":"guest-shutdown"\}$/),
  ]);
  expect(lines.at(-1)).toBe("disconnected");
  expect(await run.stderr()).toBe("");
});

test("Ctrl-C (SIGINT) ends the tail and disconnects cleanly", async () => {
  await using fake = await createFakeQemu();
  const run = start([fake.address]);
  await within(run.line(/^tailing events/), 10_000, "the tail to start");
  run.proc.kill("SIGINT");
  expect(await within(run.exited(), 10_000, "vm-status to exit")).toBe(0);
  expect(run.stdout().trim().split("\n").at(-1)).toBe("disconnected");
  expect(await run.stderr()).toBe("");
});

test("QEMU quitting ends the tail with SHUTDOWN and a note, not an error", async () => {
  await using fake = await createFakeQemu({ multiClient: true });
  const run = start([fake.address]);
  await within(run.line(/^tailing events/), 10_000, "the tail to start");
  // Another client asks QEMU to quit: SHUTDOWN to every client, the reply, then QEMU closes every connection.
  await using other = await connect(fake.address);
  await other.execute("quit");
  expect(await within(run.exited(), 10_000, "vm-status to exit")).toBe(0);
  const out = run.stdout();
  expect(out).toContain(' SHUTDOWN {"guest":false,"reason":"host-qmp-quit"}');
  expect(out.trim().split("\n").at(-1)).toBe("QEMU closed the connection");
  expect(await run.stderr()).toBe("");
});

test("an unreachable socket is a one-line error and exit status 1", async () => {
  const run = start(["/nonexistent/qmp.sock"]);
  expect(await within(run.exited(), 10_000, "vm-status to exit")).toBe(1);
  expect(await run.stderr()).toMatch(/^vm-status: Failed to establish connection.*\n$/);
});

test.skipIf(skipWithoutQemu())(
  "without a socket it starts a real QEMU, and Ctrl-C leaves none behind",
  async () => {
    requireQemu(); // under CI=true a missing QEMU fails here instead of skipping
    const run = start([]);
    const started = await within(run.line(/^started QEMU \(pid \d+\)$/), 15_000, "QEMU to start");
    const pid = Number(/pid (\d+)/.exec(started)?.[1]);
    expect(await within(run.line(/^status:/), 10_000, "the status line")).toBe(
      "status: running (running: true)",
    );
    await within(run.line(/^tailing events/), 5_000, "the tail to start");
    run.proc.kill("SIGINT");
    expect(await within(run.exited(), 15_000, "vm-status to exit")).toBe(0);
    expect(run.stdout()).toMatch(/^connected to QEMU 7\.2\.\d+ at unix:.*qmp\.sock$/m);
    // The QEMU it started is gone: signal 0 probes a pid without touching it.
    expect(() => process.kill(pid, 0)).toThrow();
  },
);
