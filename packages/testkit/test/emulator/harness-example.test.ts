/**
 * The testkit README's "Test a program that launches QEMU" example, as a test: a harness that starts QEMU with a
 * command line and drives its monitor, pointed at the fake instead. Keep the two in step.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@qmpkit/qmp";
import { emulatorBinary } from "./emulator-binary.ts";

// The program under test: it launches QEMU paused, waits for the monitor, resumes the guest.
async function bootPaused(qemuBinary: string, dir: string, env: Record<string, string | undefined>) {
  const socket = join(dir, "qmp.sock");
  const qemu = Bun.spawn(
    [
      qemuBinary,
      ...["-machine", "q35", "-m", "256", "-nodefaults", "-display", "none", "-S"],
      ...["-qmp", `unix:${socket},server=on,wait=off`, "-pidfile", join(dir, "qemu.pid")],
    ],
    { env },
  );
  // QEMU creates the socket file a moment before it listens: retry a missing or refusing socket.
  const monitor = await connect(`unix:${socket}`, {
    retry: { attempts: 250, delayMs: 20 },
    timeoutMs: 10_000,
  });
  await monitor.execute("cont");
  return { qemu, monitor };
}

test("the harness boots a paused VM and resumes it (on the fake QEMU)", async () => {
  using fakeQemu = emulatorBinary(); // in your project: a link named qemu-system-x86_64 to dist/qmpkit
  const dir = mkdtempSync(join(tmpdir(), "harness-"));
  const log = join(dir, "monitor.jsonl");
  // QEMU inherits the harness's environment: that is how the test reaches the fake.
  const env = { ...process.env, QMPKIT_FAKE_QEMU_LOG: log };
  try {
    const { qemu, monitor } = await bootPaused(fakeQemu.path, dir, env);
    expect(await monitor.execute("query-status")).toMatchObject({ status: "running" });
    expect(Number(readFileSync(join(dir, "qemu.pid"), "utf8"))).toBe(qemu.pid);
    await monitor.execute("quit");
    expect(await qemu.exited).toBe(0);
    const sent = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).message?.execute);
    expect(sent).toEqual(["qmp_capabilities", "cont", "query-status", "quit"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
