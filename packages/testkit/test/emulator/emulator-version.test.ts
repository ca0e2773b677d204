/**
 * Picking the generation of the emulator from outside: `QMPKIT_FAKE_QEMU_VERSION=10.0` (what a program that
 * launches `qemu-system-x86_64` can set) makes `-version` and the QMP side answer like QEMU 10.0; with the
 * Debian 13 tree present, `-version` is compared with the real QEMU 10.0's.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@qmpkit/qmp";
import { qemu10Binary, requireQemu10, skipWithoutQemu10 } from "../../src/index.ts";
import { within } from "../helpers.ts";
import { EMULATOR_MAIN } from "./emulator-binary.ts";

const dirs: string[] = [];
const children: Bun.Subprocess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
    await child.exited;
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function run(argv: string[], env: Record<string, string>) {
  const child = Bun.spawn(argv, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  children.push(child);
  const [stdout, stderr, status] = await within(
    Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]),
    10_000,
    argv.join(" "),
  );
  return { stdout, stderr, status };
}

const emulator = [process.execPath, EMULATOR_MAIN];

/** The emulator as QEMU 10.0 on `machine`, serving QMP; resolves with the monitor's path once it exists. */
async function startAs10(machine: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-emu-version-"));
  dirs.push(dir);
  const socket = join(dir, "qmp.sock");
  const qmp = `unix:${socket},server=on,wait=off`;
  const child = Bun.spawn(
    [...emulator, "-machine", machine, "-nodefaults", "-display", "none", "-qmp", qmp],
    {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      env: { ...process.env, QMPKIT_FAKE_QEMU_VERSION: "10.0" },
    },
  );
  children.push(child);
  const appeared = (async () => {
    while (!existsSync(socket)) await Bun.sleep(10);
  })();
  await within(appeared, 10_000, "the monitor socket");
  return socket;
}

describe("QMPKIT_FAKE_QEMU_VERSION", () => {
  test("10.0: -version says QEMU 10.0.13, and the monitor greets as 10.0 without singlestep", async () => {
    const version = await run([...emulator, "-version"], { QMPKIT_FAKE_QEMU_VERSION: "10.0" });
    expect(version).toMatchObject({ status: 0, stderr: "" });
    expect(version.stdout).toStartWith("QEMU emulator version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)\n");

    const client = await connect(await startAs10("none"));
    expect(client.greeting?.QMP.version.qemu).toEqual({ micro: 13, minor: 0, major: 10 });
    expect(await client.executeUntyped("query-status")).toEqual({ status: "running", running: true });
    await client.disconnect();
  });

  test("an unknown generation fails the way a bad option does: a message and exit status 1", async () => {
    const result = await run([...emulator, "-version"], { QMPKIT_FAKE_QEMU_VERSION: "9.2" });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      "qemu-system-x86_64: QMPKIT_FAKE_QEMU_VERSION=9.2: the fake answers like 7.2 or 10.0\n",
    );
  });
});

describe.skipIf(skipWithoutQemu10())("against the real QEMU 10.0", () => {
  // The lists the emulator prints (it does not print `-cpu help` or `-machine TYPE,help` for any generation yet).
  const printed: [string[]][] = [[["-version"]], [["-help"]], [["-machine", "help"]]];
  test.each(printed)("%p prints what QEMU 10.0 prints", async (args) => {
    requireQemu10();
    const real = await run([qemu10Binary(), ...args], {});
    const fake = await run([...emulator, ...args], { QMPKIT_FAKE_QEMU_VERSION: "10.0" });
    expect(fake).toEqual(real);
  });

  test("-machine q35 is 10.0's q35: query-machines marks pc-q35-10.0 as the alias target", async () => {
    requireQemu10();
    const client = await connect(await startAs10("q35"));
    const machines = (await client.executeUntyped("query-machines")) as { name: string; alias?: string }[];
    expect(machines.find((m) => m.alias === "q35")?.name).toBe("pc-q35-10.0");
    await client.disconnect();
  });
});
