// QGAClient against a real qemu-ga running on this host (skipped without /usr/sbin/qemu-ga, failing under CI=true).
// The agent runs as the test's user on a non-VM host: commands that would change the host (fsfreeze-freeze,
// shutdown, suspend) are never sent in a form that could act.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { Runstate } from "@qmpkit/protocol-core";
import { QGAClient, QGAError } from "@qmpkit/qmp/qga";
import { QemuGaSpawnError } from "../src/qga/errors.ts";
import { type QemuGaProcess, type SpawnQemuGaOptions, spawnQemuGa } from "../src/qga/spawn-qemu-ga.ts";
import {
  cleanupList,
  recordingClient,
  rejection,
  requireQemuGa,
  skipWithoutQemuGa,
  within,
} from "./qga-helpers.ts";

const cleanups = cleanupList();
afterEach(() => cleanups.run());

async function agent(options: SpawnQemuGaOptions = {}): Promise<QemuGaProcess> {
  requireQemuGa();
  const spawned = await spawnQemuGa(options);
  cleanups.add(() => spawned.kill());
  return spawned;
}

async function connectedClient(address: string): Promise<ReturnType<typeof recordingClient>> {
  const made = recordingClient();
  cleanups.add(() => made.qga.disconnect().catch(() => {}));
  await within(made.qga.connect(address), 10_000, "connect");
  return made;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-qga-files-"));
  cleanups.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe.skipIf(skipWithoutQemuGa)("real qemu-ga", () => {
  test("sync: connect skips the agent's error for the 0xFF byte and matches the sentinel reply; sync() repeats it", async () => {
    const { address } = await agent();
    const { qga, inbound } = await connectedClient(address);
    expect(inbound).toHaveLength(2);
    expect(inbound[0]).toBe(
      `{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\\uFFFD'"}}`,
    );
    expect(inbound[1]).toMatch(/^\\xff\{"return": \d+\}$/);
    await within(qga.sync());
    expect(inbound).toHaveLength(4);
    expect(qga.runstate).toBe(Runstate.RUNNING);
  });

  test("ping, info, osinfo and getTime", async () => {
    const { address } = await agent();
    const { qga } = await connectedClient(address);
    await within(qga.ping());
    const info = await within(qga.info());
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.supported_commands.find((c) => c.name === "guest-exec")?.enabled).toBe(true);
    expect(info.supported_commands.find((c) => c.name === "guest-shutdown")?.["success-response"]).toBe(
      false,
    );
    const os = await within(qga.osinfo());
    expect(os["kernel-release"]).toBe(release());
    const nanoseconds = await within(qga.getTime());
    expect(typeof nanoseconds).toBe("bigint");
    // The agent reads this host's clock: the two agree to well within a minute (a value check, not a timing one).
    const skewMs = Number(nanoseconds / 1_000_000n) - Date.now();
    expect(Math.abs(skewMs)).toBeLessThan(60_000);
  });

  test("exec /bin/echo hello captures stdout and exit code 0", async () => {
    const { address } = await agent();
    const { qga } = await connectedClient(address);
    const result = await within(qga.exec("/bin/echo", ["hello"]));
    expect(result).toMatchObject({ exitcode: 0, stdout: "hello\n", stderr: "", stdoutTruncated: false });
  });

  test("exec passes stdin, env and argv, and reports stderr and a non-zero exit code", async () => {
    const { address } = await agent();
    const { qga } = await connectedClient(address);
    const result = await within(
      qga.exec("/bin/sh", ["-c", 'cat; printf "%s" "$GREETING" >&2; exit 7'], {
        input: "from stdin",
        env: { GREETING: "bonjour", PATH: "/usr/bin:/bin" },
      }),
    );
    expect(result).toMatchObject({ exitcode: 7, stdout: "from stdin", stderr: "bonjour" });
  });

  test("a file written and read back in a temp dir: binary (0xFF, NUL), several chunks, byte-exact on disk", async () => {
    const { address } = await agent();
    const { qga } = await connectedClient(address);
    const path = join(tempDir(), "blob.bin");
    const data = new Uint8Array(300_000).map((_, i) =>
      i % 5 === 0 ? 0xff : i % 5 === 1 ? 0x00 : (i * 31) & 0xff,
    );
    expect(await within(qga.fileWrite(path, data, { chunkBytes: 65_536 }))).toBe(data.length);
    expect(new Uint8Array(readFileSync(path))).toEqual(data);
    expect(await within(qga.fileRead(path, { chunkBytes: 100_000 }))).toEqual(data);
    // Every handle was closed: qemu-ga refuses to close one twice, and hands out the next number.
    expect(await within(qga.executeUntyped("guest-file-open", { path, mode: "r" }))).toBe(1002);
  });

  test("a file error is a QGAError with the agent's text", async () => {
    const { address } = await agent();
    const { qga } = await connectedClient(address);
    const missing = join(tempDir(), "missing", "file");
    const error = await rejection(qga.fileRead(missing));
    expect(error).toBeInstanceOf(QGAError);
    expect((error as QGAError).desc).toBe(
      `failed to open file '${missing}' (mode: 'r'): No such file or directory`,
    );
  });

  test("fsfreeze status and network interfaces", async () => {
    const { address } = await agent();
    const { qga } = await connectedClient(address);
    expect(await within(qga.fsfreezeStatus())).toBe("thawed");
    const interfaces = await within(qga.networkInterfaces());
    const lo = interfaces.find((i) => i.name === "lo");
    expect(lo?.["ip-addresses"]?.some((a) => a["ip-address"] === "127.0.0.1")).toBe(true);
  });

  test("a guest-shutdown the agent rejects is sent without waiting; its late error is skipped by the resync", async () => {
    const { address } = await agent();
    const { qga, inbound } = await connectedClient(address);
    // An invalid mode makes qemu-ga refuse before doing anything, so the host is safe.
    await within(qga.executeUntyped("guest-shutdown", { mode: "bogus" }));
    expect(await within(qga.executeUntyped("guest-sync", { id: 5150 }))).toBe(5150);
    expect(inbound.some((line) => line.includes("mode is invalid"))).toBe(true);
  });

  // Why the serial channel: with qemu-ga's own unix-listen socket every client gets a fresh stream, so nothing
  // stale can reach it. Behind QEMU's virtio-serial chardev the stream persists across host clients, and a reply
  // to a client that vanished goes to the next one; spawnQemuGa({ channel: "serial" }) reproduces that.
  //
  // Why the 1 MiB read in front of guest-info: it makes the stale reply late by construction, not by luck. The
  // agent can only write guest-info's reply after ~1.4 MB of base64 went through the pseudo-terminal, which takes
  // dozens of event-loop turns of this process to drain, while the first client's FIN is already queued when the
  // first of those turns runs. So the relay has seen the first client leave before guest-info is answered.
  test("a second client after the first vanished mid-command: sync skips the stale reply", async () => {
    const { address } = await agent({ channel: "serial" });
    const first = await Bun.connect({ unix: address, socket: { data() {} } });
    first.write(
      Buffer.concat([
        Buffer.from([0xff]),
        Buffer.from('{"execute":"guest-file-open","arguments":{"path":"/dev/zero","mode":"r"}}\n'),
        // A fresh agent numbers its first handle 1000.
        Buffer.from('{"execute":"guest-file-read","arguments":{"handle":1000,"count":1048576}}\n'),
        Buffer.from('{"execute":"guest-info"}\n{"execute":"guest-pi'),
      ]),
    );
    first.end();
    const { qga, inbound } = await connectedClient(address);
    const syncAt = inbound.findIndex((line) => line.startsWith("\\xff"));
    const staleAt = inbound.findIndex((line) => line.startsWith('{"return": {"version": '));
    expect(staleAt).toBeGreaterThanOrEqual(0);
    expect(staleAt).toBeLessThan(syncAt);
    // The agent dropped the half command when our 0xFF arrived, and said so.
    expect(inbound.some((line) => line.includes(`stray '\\"guest-pi\\uFFFD'`))).toBe(true);
    expect(await within(qga.executeUntyped("guest-sync", { id: 8086 }))).toBe(8086);
    expect((await within(qga.exec("/bin/echo", ["still in step"]))).stdout).toBe("still in step\n");
  });

  test("a second client after the first vanished mid-command on qemu-ga's own socket", async () => {
    const { address } = await agent();
    const first = await Bun.connect({ unix: address, socket: { data() {} } });
    first.write('{"execute":"guest-info"}\n{"execute":"guest-pi');
    first.terminate();
    const { qga } = await connectedClient(address);
    expect(await within(qga.executeUntyped("guest-sync", { id: 6502 }))).toBe(6502);
  });
});

test.skipIf(skipWithoutQemuGa)("spawnQemuGa removes its temp dir and stops the agent", async () => {
  requireQemuGa();
  const spawned = await spawnQemuGa();
  const dir = join(spawned.address, "..");
  await spawned.kill();
  expect(() => readFileSync(join(dir, "qemu-ga.pid"))).toThrow();
  expect(() => process.kill(spawned.pid, 0)).toThrow();
  await spawned.kill();
  const qga = new QGAClient();
  expect(await rejection(qga.connect(spawned.address))).toBeInstanceOf(Error);
});

test.skipIf(skipWithoutQemuGa)(
  "spawnQemuGa reports qemu-ga's own complaint and leaves nothing behind when it fails",
  async () => {
    requireQemuGa();
    const before = new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("qmpkit-qemu-ga-")));
    const error = await rejection(spawnQemuGa({ args: ["--no-such-option"] }));
    expect(error).toBeInstanceOf(QemuGaSpawnError);
    expect((error as QemuGaSpawnError).output).toContain("no-such-option");
    expect((error as QemuGaSpawnError).exitCode).not.toBe(0);
    const after = readdirSync(tmpdir()).filter(
      (name) => name.startsWith("qmpkit-qemu-ga-") && !before.has(name),
    );
    expect(after).toEqual([]);
  },
);

test("spawnQemuGa names the missing binary", async () => {
  const error = await rejection(spawnQemuGa({ binary: "/nonexistent/qemu-ga" }));
  expect(error).toBeInstanceOf(QemuGaSpawnError);
  expect((error as Error).message).toContain("/nonexistent/qemu-ga is not installed");
});
