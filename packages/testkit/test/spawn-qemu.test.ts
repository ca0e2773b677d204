/**
 * spawnQemu: starts a real QEMU whose socket accepts, always cleans up (process and temp dir), and reports an
 * early exit or a timeout with QEMU's stderr. The CI rule helpers are checked with the environment faked.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { connect } from "@qmpkit/qmp";
import {
  hasQemu,
  hasQemu10,
  requireQemu,
  requireQemu10,
  SpawnQemuError,
  skipWithoutQemu,
  skipWithoutQemu10,
  spawnQemu,
} from "../src/index.ts";
import { within } from "./helpers.ts";

// spawnQemu makes its dirs under tmpdir(), shared with every other test run on the machine: counting them there
// would see other runs' QEMUs come and go. A private TMPDIR for this file (children inherit it) isolates them.
let savedTmpdir: string | undefined;
let privateTmpdir = "";
beforeAll(() => {
  savedTmpdir = process.env.TMPDIR;
  privateTmpdir = mkdtempSync(join(tmpdir(), "qmpkit-spawn-test-"));
  process.env.TMPDIR = privateTmpdir;
});
afterAll(() => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  rmSync(privateTmpdir, { recursive: true, force: true });
});

/** spawnQemu's temp dirs currently present. */
function qemuDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith("qmpkit-qemu-"));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(skipWithoutQemu())("spawnQemu with a real QEMU", () => {
  test("the socket accepts a client at once; disposal kills QEMU and removes the dir", async () => {
    requireQemu();
    let pid = 0;
    let dir = "";
    {
      await using qemu = await spawnQemu();
      pid = qemu.pid;
      dir = dirname(qemu.path);
      expect(qemu.address).toBe(`unix:${qemu.path}`);
      const client = await within(connect(qemu.address), 5000);
      expect((await client.execute("query-status")).status).toBe("running");
      await client.disconnect();
    }
    expect(existsSync(dir)).toBe(false);
    expect(isAlive(pid)).toBe(false);
  });

  test("kill() resolves with the exit status; extraArgs reach QEMU", async () => {
    requireQemu();
    await using qemu = await spawnQemu({ extraArgs: ["-name", "contract-vm"] });
    const client = await within(connect(qemu.address), 5000);
    expect(await client.execute("query-name")).toEqual({ name: "contract-vm" });
    await client.disconnect();
    expect(await within(qemu.kill("SIGKILL"), 5000)).not.toBe(0);
  });

  test("a test that leaks a QEMU or times out holding one leaves no process and no dir after bun test ends", async () => {
    requireQemu();
    const fixture = join(import.meta.dir, "qemu-leak-fixture.ts");
    await using run = Bun.spawn(["bun", "test", fixture], { stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text()]);
    await within(run.exited, 15_000, "the fixture's bun test");
    const leaked = [...`${out}\n${err}`.matchAll(/QEMU (\d+) (\S+)/g)].map((m) => ({
      pid: Number(m[1]),
      path: m[2] as string,
    }));
    expect(leaked).toHaveLength(2);
    // The watchdog acts once the runner's end of its FIFO closes; give it a bounded moment.
    await within(
      (async () => {
        while (leaked.some((q) => isAlive(q.pid) || existsSync(dirname(q.path)))) await Bun.sleep(20);
      })(),
      5000,
      "watchdog clean-up",
    );
  }, 20_000);

  test("QEMU exiting early rejects with SpawnQemuError carrying its stderr, and leaves nothing behind", async () => {
    requireQemu();
    const before = qemuDirs();
    const error = await spawnQemu({ extraArgs: ["-no-such-option"] }).catch((e: unknown) => e);
    expect(qemuDirs()).toEqual(before);
    expect(error).toBeInstanceOf(SpawnQemuError);
    expect((error as SpawnQemuError).stderr).toContain("-no-such-option");
    expect((error as SpawnQemuError).message).toContain("QEMU stderr:");
    expect((error as SpawnQemuError).exitCode).toBe(1);
  });
});

describe.skipIf(skipWithoutQemu10())("spawnQemu with the Debian 13 tree's QEMU 10.0", () => {
  test("qemuVersion 10.0 runs the tree's QEMU, with its socket under the shared /tmp; disposal cleans up", async () => {
    requireQemu10();
    let pid = 0;
    let dir = "";
    {
      await using qemu = await spawnQemu({ qemuVersion: "10.0" });
      pid = qemu.pid;
      dir = dirname(qemu.path);
      expect(dir.startsWith("/tmp/qmpkit-qemu-")).toBe(true);
      const client = await within(connect(qemu.address), 5000);
      expect(client.greeting?.QMP.version.qemu).toMatchObject({ major: 10, minor: 0 });
      await client.disconnect();
      // chroot execs QEMU: the pid spawnQemu reports is QEMU's own, so SIGSTOP/SIGKILL by pid reach it.
      expect(await Bun.file(`/proc/${pid}/comm`).text()).toBe("qemu-system-x86\n");
    }
    expect(existsSync(dir)).toBe(false);
    expect(isAlive(pid)).toBe(false);
  });
});

describe("spawnQemu failures without QEMU", () => {
  test("a program that never opens the socket times out with SpawnQemuError; its dir is removed", async () => {
    const before = qemuDirs();
    const error = await within(
      spawnQemu({
        binary: "/bin/sh",
        args: ["-c", "echo starting >&2; exec sleep 30"],
        timeoutMs: 300,
      }).catch((e: unknown) => e),
      5000,
    );
    expect(error).toBeInstanceOf(SpawnQemuError);
    expect((error as SpawnQemuError).message).toContain("did not accept within 300 ms");
    expect((error as SpawnQemuError).stderr).toContain("starting");
    expect(qemuDirs()).toEqual(before);
  });

  test("a missing binary is a SpawnQemuError naming it", async () => {
    const error = await spawnQemu({ binary: "qemu-system-does-not-exist" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpawnQemuError);
    expect((error as Error).message).toContain("qemu-system-does-not-exist is not installed");
  });
});

describe("the CI rule", () => {
  const saved = process.env.CI;
  afterEach(() => {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  });

  test("without the binary: skipped locally, not skipped (so failing) under CI=true", () => {
    const missing = "qemu-system-does-not-exist";
    expect(hasQemu(missing)).toBe(false);
    delete process.env.CI;
    expect(skipWithoutQemu(missing)).toBe(true);
    process.env.CI = "true";
    expect(skipWithoutQemu(missing)).toBe(false);
    expect(() => requireQemu(missing)).toThrow(/CI=true requires it/);
  });

  test("without the QEMU 10.0 tree: skipped locally, failing under CI=true with how to build it", () => {
    const savedTree = process.env.QMPKIT_QEMU10;
    process.env.QMPKIT_QEMU10 = "/nonexistent/qemu-system-x86_64-10.0";
    try {
      expect(hasQemu10()).toBe(false);
      delete process.env.CI;
      expect(skipWithoutQemu10()).toBe(true);
      process.env.CI = "true";
      expect(skipWithoutQemu10()).toBe(false);
      expect(() => requireQemu10()).toThrow(/scripts\/qemu-10\.0-tree\.sh.*CI=true requires it/);
    } finally {
      if (savedTree === undefined) delete process.env.QMPKIT_QEMU10;
      else process.env.QMPKIT_QEMU10 = savedTree;
    }
  });

  test("with the binary present nothing is skipped", () => {
    expect(skipWithoutQemu("sh")).toBe(false);
    expect(() => requireQemu("sh")).not.toThrow();
  });
});
