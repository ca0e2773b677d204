/**
 * The compiled binary as a drop-in QEMU: `dist/qmpkit fake-qemu QEMU-ARGS` and the same binary run through a
 * link named `qemu-system-x86_64` (argv[0] detection), launched with the arguments a harness gives QEMU. Where
 * QEMU is installed, the same conversation is held with it and must be the same.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@qmpkit/qmp";

import { skipWithoutQemu, spawnQemu } from "@qmpkit/testkit";
import { builtBinary } from "./e2e-helpers.ts";

/** QEMU creates its socket file a moment before it listens: a missing or refusing socket is retried. */
const READY = { retry: { attempts: 500, delayMs: 20 }, timeoutMs: 15_000 };

const Q35 = ["-machine", "q35", "-m", "256", "-nodefaults", "-display", "none"];
let dir = "";
let binary = "";
let link = "";

beforeAll(async () => {
  binary = await builtBinary();
  dir = mkdtempSync(join(tmpdir(), "qmpkit-fake-qemu-e2e-"));
  link = join(dir, "qemu-system-x86_64");
  symlinkSync(binary, link);
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `command` with QEMU's arguments plus a QMP socket; holds the conversation; quits. */
async function conversation(command: string[], name: string): Promise<{ said: unknown[]; status: number }> {
  const socket = join(dir, `${name}.sock`);
  const child = Bun.spawn([...command, ...Q35, "-qmp", `unix:${socket},server=on,wait=off`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  try {
    const deadline = Date.now() + 15_000;
    while (!existsSync(socket) && Date.now() < deadline) await Bun.sleep(10);
    const client = await connect(`unix:${socket}`, READY);
    const said: unknown[] = [client.greeting];
    for (const command of [
      "query-status",
      "query-version",
      "query-name",
      "query-uuid",
      "query-target",
    ] as const) {
      said.push(await client.execute(command));
    }
    await client.execute("quit");
    await client.disconnect().catch(() => {});
    return { said, status: await child.exited };
  } finally {
    child.kill("SIGKILL");
  }
}

describe("dist/qmpkit as qemu-system-x86_64", () => {
  test("fake-qemu -machine q35 -qmp unix:S,server=on,wait=off: greeting and answers, then quit exits 0", async () => {
    const fake = await conversation([binary, "fake-qemu"], "fake");
    expect(fake.status).toBe(0);
    expect(fake.said[0]).toMatchObject({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 } } } });
    expect(fake.said[1]).toEqual({ status: "running", singlestep: false, running: true });
    if (!skipWithoutQemu()) {
      const real = await conversation(["qemu-system-x86_64"], "real");
      expect(fake).toEqual(real);
    }
  }, 60_000);

  test("through a link named qemu-system-x86_64: -version, and an unknown option fails as QEMU's", async () => {
    const version = Bun.spawnSync([link, "-version"]);
    expect(version.exitCode).toBe(0);
    expect(version.stdout.toString()).toStartWith("QEMU emulator version 7.2.22");
    const bad = Bun.spawnSync([link, "-no-such-option"]);
    expect({ status: bad.exitCode, stderr: bad.stderr.toString() }).toEqual({
      status: 1,
      stderr: "qemu-system-x86_64: -no-such-option: invalid option\n",
    });
  }, 30_000);

  test("through the link with a scrubbed environment (as libvirt starts QEMU), LINK.env steers it", async () => {
    const log = join(dir, "monitor.jsonl");
    const script = JSON.stringify({ commands: { "query-name": { return: { name: "from-the-env-file" } } } });
    await Bun.write(`${link}.env`, `QMPKIT_FAKE_QEMU_LOG=${log}\nQMPKIT_FAKE_QEMU_SCRIPT=${script}\n`);
    try {
      const socket = join(dir, "scrubbed.sock");
      const child = Bun.spawn([link, ...Q35, "-qmp", `unix:${socket},server=on,wait=off`], {
        env: {},
        stderr: "pipe",
      });
      const client = await connect(`unix:${socket}`, READY);
      expect(await client.execute("query-name")).toEqual({ name: "from-the-env-file" });
      await client.execute("quit");
      await client.disconnect().catch(() => {});
      expect(await child.exited).toBe(0);
      const received = (await Bun.file(log).text())
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).message?.execute);
      expect(received).toEqual(["qmp_capabilities", "query-name", "quit"]);
    } finally {
      rmSync(`${link}.env`, { force: true });
    }
  }, 30_000);

  test("through the link, spawnQemu({ binary }) starts it as it starts QEMU, and the monitor answers", async () => {
    await using qemu = await spawnQemu({ binary: link, args: Q35 });
    const client = await connect(qemu.address);
    expect(await client.execute("query-status")).toMatchObject({ status: "running" });
    await client.disconnect();
  }, 30_000);
});
