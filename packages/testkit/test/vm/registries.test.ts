/**
 * The registries over a socket: objects and iothreads, netdevs, chardevs (a listening socket one too), passed
 * descriptors, the dump file and its event order, and refusals without a balloon or display device. What needs
 * a device (the balloon, screendump) is in registries-hooks.test.ts.
 */
import { expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { raceAbort } from "@qmpkit/protocol-core";
import type { ExecuteError } from "@qmpkit/qmp";
// The client's SCM_RIGHTS sender, to send a descriptor on a whole command as libvirt does.
import { sendFdOverSocket } from "../../../qmp/src/fd-passing.ts";
import type { FakeQemuOptions } from "../../src/index.ts";
import { fakeSession } from "./fake-session.ts";

async function setup(options: FakeQemuOptions = {}) {
  const { fake, client, dir } = await fakeSession({ machine: "q35", clock: "manual", ...options });
  const run = (command: string, args?: Record<string, unknown>) =>
    (client.execute as (c: string, a?: unknown) => Promise<unknown>)(command, args);
  const error = async (command: string, args?: Record<string, unknown>) =>
    (
      (await run(command, args).then(
        () => undefined,
        (e: unknown) => e,
      )) as ExecuteError | undefined
    )?.desc;
  return { fake, client, dir, run, error };
}

test("object-add refuses a duplicate id as QEMU's container does, and object-del a missing or used object", async () => {
  const { run, error } = await setup();
  await run("object-add", { "qom-type": "memory-backend-ram", id: "m0", size: 1 << 20 });
  expect(await error("object-add", { "qom-type": "iothread", id: "m0" })).toBe(
    "attempt to add duplicate property 'm0' to object (type 'container')",
  );
  expect(await error("object-add", { "qom-type": "memory-backend-ram", id: "m1" })).toBe(
    "Parameter 'size' is missing",
  );
  await run("object-del", { id: "m0" });
  expect(await error("object-del", { id: "m0" })).toBe("object 'm0' not found");
});

test("secret objects: QEMU's checks and texts, a keyid naming a 32-byte key", async () => {
  const { run, error, dir } = await setup();
  expect(await error("object-add", { "qom-type": "secret", id: "s0" })).toBe(
    "Either 'file' or 'data' must be provided",
  );
  expect(
    await error("object-add", { "qom-type": "secret", id: "s0", data: "x", file: "/etc/hostname" }),
  ).toBe("'file' and 'data' are mutually exclusive");
  const missing = join(dir, "missing.key");
  expect(await error("object-add", { "qom-type": "secret", id: "s0", file: missing })).toBe(
    `Unable to read ${missing}: Failed to open file “${missing}”: No such file or directory`,
  );
  expect(await error("object-add", { "qom-type": "secret", id: "s0", data: "x", keyid: "k" })).toBe(
    "No secret with id 'k'",
  );
  const keyFile = join(dir, "master-key.aes");
  writeFileSync(keyFile, new Uint8Array(32));
  await run("object-add", { "qom-type": "secret", id: "masterKey0", format: "raw", file: keyFile });
  await run("object-add", { "qom-type": "secret", id: "short", data: "x" });
  expect(await error("object-add", { "qom-type": "secret", id: "s1", data: "x", keyid: "short" })).toBe(
    "Key should be 32 bytes in length",
  );
  expect(await error("object-add", { "qom-type": "secret", id: "s1", data: "x", keyid: "masterKey0" })).toBe(
    "IV is required to decrypt secret",
  );
  await run("object-del", { id: "short" });
});

test("query-iothreads lists iothreads in QEMU's hash-table order with their polling properties", async () => {
  const { run } = await setup();
  await run("object-add", { "qom-type": "throttle-group", id: "tg0" });
  await run("object-add", { "qom-type": "iothread", id: "a1" });
  await run("object-add", { "qom-type": "iothread", id: "b2", "poll-max-ns": 5 });
  const threads = (await run("query-iothreads")) as { id: string; "poll-max-ns": number }[];
  // Recorded from QEMU 7.2 with the same objects: b2 comes first.
  expect(threads.map((t) => [t.id, t["poll-max-ns"]])).toEqual([
    ["b2", 5],
    ["a1", 32768],
  ]);
  expect(Object.keys(threads[0] ?? {})).toEqual([
    "poll-shrink",
    "thread-id",
    "aio-max-batch",
    "poll-grow",
    "poll-max-ns",
    "id",
  ]);
});

test("a throttle group is the block model's until object-del", async () => {
  const { run, error } = await setup();
  await run("object-add", { "qom-type": "throttle-group", id: "tg0", limits: { "iops-total": 100 } });
  await run("blockdev-add", { driver: "null-co", "node-name": "n0" });
  await run("blockdev-add", { driver: "throttle", "node-name": "t0", "throttle-group": "tg0", file: "n0" });
  expect(await error("object-del", { id: "tg0" })).toBe("object 'tg0' is in use, can not be deleted");
  await run("blockdev-del", { "node-name": "t0" });
  await run("object-del", { id: "tg0" });
});

test("netdevs: duplicate and missing ids", async () => {
  const { run, error } = await setup();
  await run("netdev_add", { type: "user", id: "n0" });
  expect(await error("netdev_add", { type: "user", id: "n0" })).toBe("Duplicate ID 'n0'");
  await run("netdev_del", { id: "n0" });
  const missing = await run("netdev_del", { id: "n0" }).catch((e: ExecuteError) => e);
  expect([(missing as ExecuteError).errorClass, (missing as ExecuteError).desc]).toEqual([
    "DeviceNotFound",
    "Device 'n0' not found",
  ]);
});

test("chardevs: the monitor's own is listed and busy; a listening socket says when a client is connected", async () => {
  const { fake, run, error, dir } = await setup();
  const path = join(dir, "c.sock");
  const addr = { type: "unix", data: { path } };
  await run("chardev-add", {
    id: "c1",
    backend: { type: "socket", data: { addr, server: true, wait: false } },
  });
  await run("chardev-add", { id: "f1", backend: { type: "file", data: { out: join(dir, "f1.txt") } } });
  expect(statSync(join(dir, "f1.txt")).size).toBe(0);
  type Info = { label: string; filename: string; "frontend-open": boolean };
  const listed = async () => ((await run("query-chardev")) as Info[]).map((c) => [c.label, c.filename]);
  const monitor = `unix:${fake.address.slice(5)},server=on`;
  expect(await listed()).toEqual([
    ["f1", "file"],
    ["c1", `disconnected:unix:${path},server=on`],
    ["compat_monitor0", monitor],
  ]);
  const peer = await Bun.connect({ unix: path, socket: { data() {} } });
  try {
    // The listener counts the connection once its open handler ran, after the client's connect resolved: ask
    // again until it has, a bounded number of times.
    for (let tries = 0; tries < 200 && (await listed())[1]?.[1]?.startsWith("disconnected:"); tries++) {
      await Bun.sleep(5);
    }
    expect((await listed())[1]).toEqual(["c1", `unix:${path},server=on`]);
  } finally {
    peer.end();
  }
  expect(await error("chardev-remove", { id: "compat_monitor0" })).toBe("Chardev 'compat_monitor0' is busy");
  expect(await error("chardev-add", { id: "c1", backend: { type: "null", data: {} } })).toBe(
    "Chardev with id 'c1' already exists",
  );
  await run("chardev-remove", { id: "c1" });
  expect(await error("chardev-remove", { id: "c1" })).toBe("Chardev 'c1' not found");
});

test("getfd and add-fd take the descriptor passed with SCM_RIGHTS, and refuse a command that came without one", async () => {
  const { client, run, error, dir } = await setup();
  const file = join(dir, "passed.txt");
  writeFileSync(file, "x");
  expect(await error("getfd", { fdname: "fd0" })).toBe("No file descriptor supplied via SCM_RIGHTS");
  const fd = openSync(file, "r+");
  try {
    await client.sendFd(fd);
    await run("getfd", { fdname: "fd0" });
    expect(await error("getfd", { fdname: "fd1" })).toBe("No file descriptor supplied via SCM_RIGHTS");
    await client.sendFd(fd);
    const added = (await run("add-fd", { opaque: "o" })) as { fd: number; "fdset-id": number };
    expect(added["fdset-id"]).toBe(0);
    expect(await run("query-fdsets")).toEqual([{ "fdset-id": 0, fds: [{ fd: added.fd, opaque: "o" }] }]);
  } finally {
    closeSync(fd);
  }
  await run("closefd", { fdname: "fd0" });
  expect(await error("closefd", { fdname: "fd0" })).toBe("File descriptor named 'fd0' not found");
  expect(await error("remove-fd", { "fdset-id": 3 })).toBe("File descriptor named 'fdset-id:3' not found");
});

test("getfd takes a descriptor sent on the command itself, as libvirt sends it (its commands end with CRLF)", async () => {
  // A raw connection beside the session's client: the monitor serves one client at a time otherwise.
  const { fake, dir } = await fakeSession({ machine: "q35", clock: "manual", multiClient: true });
  const lines: string[] = [];
  let waiting: (() => void) | undefined;
  const socket = await Bun.connect({
    unix: fake.path as string,
    socket: {
      data(_socket, chunk) {
        lines.push(
          ...chunk
            .toString()
            .split("\n")
            .filter((line) => line.includes('"id"')),
        );
        waiting?.();
      },
    },
  });
  const reply = async (): Promise<unknown> => {
    const signal = AbortSignal.timeout(3000);
    while (lines.length === 0) {
      const arrived = new Promise<void>((resolve) => {
        waiting = resolve;
      });
      await raceAbort(arrived, signal);
    }
    return JSON.parse(lines.shift() as string);
  };
  const file = join(dir, "passed.txt");
  writeFileSync(file, "x");
  const fd = openSync(file, "r");
  try {
    socket.write('{"execute":"qmp_capabilities","id":"libvirt-1"}\r\n');
    expect(await reply()).toEqual({ return: {}, id: "libvirt-1" });
    const command = '{"execute":"getfd","arguments":{"fdname":"migrate"},"id":"libvirt-2"}\r\n';
    await sendFdOverSocket(
      (socket as unknown as { fd: number }).fd,
      fd,
      async () => {},
      new TextEncoder().encode(command),
    );
    expect(await reply()).toEqual({ return: {}, id: "libvirt-2" });
    socket.write('{"execute":"closefd","arguments":{"fdname":"migrate"},"id":"libvirt-3"}\r\n');
    expect(await reply()).toEqual({ return: {}, id: "libvirt-3" });
  } finally {
    closeSync(fd);
    socket.end();
  }
});

test("remove-fd: 7.2 keeps the fd listed while a monitor is connected, 10.0 drops the set", async () => {
  for (const qemuVersion of ["7.2", "10.0"] as const) {
    const { client, run, dir } = await setup({ qemuVersion });
    const fd = openSync(join(dir, "f"), "w");
    try {
      await client.sendFd(fd);
      await run("add-fd", { "fdset-id": 1 });
    } finally {
      closeSync(fd);
    }
    await run("remove-fd", { "fdset-id": 1 });
    expect(((await run("query-fdsets")) as unknown[]).length).toBe(qemuVersion === "7.2" ? 1 : 0);
  }
});

test("dump-guest-memory stops a running guest around the dump and writes an ELF core", async () => {
  const { client, run, error, dir } = await setup({ status: "prelaunch" });
  expect(await run("query-dump")).toEqual({ status: "none", completed: 0, total: 0 });
  const tap = client.listen({ names: ["STOP", "RESUME", "DUMP_COMPLETED"] });
  // Before the firmware ran, QEMU 7.2 counted 256 KiB of BIOS besides the RAM; no STOP for a paused guest.
  await run("dump-guest-memory", { paging: false, protocol: `file:${join(dir, "d0")}` });
  expect(tap.clear().map((e) => e.event)).toEqual(["DUMP_COMPLETED"]);
  expect(await run("query-dump")).toEqual({ status: "completed", completed: 268697600, total: 268697600 });
  await run("cont");
  tap.clear();
  await run("dump-guest-memory", { paging: false, protocol: `file:${join(dir, "d1")}` });
  expect(tap.clear().map((e) => e.event)).toEqual(["STOP", "DUMP_COMPLETED", "RESUME"]);
  const core = readFileSync(join(dir, "d1"));
  expect([...core.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
  expect(core.readUInt16LE(16)).toBe(4); // ET_CORE
  expect(statSync(join(dir, "d1")).mode & 0o777).toBe(0o400);
  expect(await error("dump-guest-memory", { paging: false, protocol: "exec:cat" })).toBe(
    "Invalid parameter 'protocol'",
  );
  expect(await error("dump-guest-memory", { paging: false, protocol: "file:/nonexistent/x" })).toBe(
    "Could not open '/nonexistent/x': No such file or directory",
  );
});

test("a detached dump answers at once and completes on the VM clock", async () => {
  const { fake, client, run, error, dir } = await setup();
  const tap = client.listen({ names: ["STOP", "RESUME", "DUMP_COMPLETED"] });
  await run("dump-guest-memory", { paging: false, protocol: `file:${join(dir, "d")}`, detach: true });
  expect(tap.clear().map((e) => e.event)).toEqual(["STOP"]);
  expect(((await run("query-status")) as { status: string }).status).toBe("save-vm");
  await fake.clock.advance(1000);
  const halfway = (await run("query-dump")) as { status: string; completed: number; total: number };
  expect(halfway.status).toBe("active");
  expect(halfway.completed).toBeGreaterThan(0);
  expect(halfway.completed).toBeLessThan(halfway.total);
  expect(await error("dump-guest-memory", { paging: false, protocol: `file:${join(dir, "e")}` })).toBe(
    "There is a dump in process, please wait.",
  );
  await fake.clock.advance(1000);
  await run("query-status");
  expect(tap.clear().map((e) => e.event)).toEqual(["DUMP_COMPLETED", "RESUME"]);
});

test("without a balloon or display device, balloon and screendump give QEMU's errors", async () => {
  const { run, error, dir } = await setup();
  const missing = await run("query-balloon").catch((e: ExecuteError) => e);
  expect([(missing as ExecuteError).errorClass, (missing as ExecuteError).desc]).toEqual([
    "DeviceNotActive",
    "No balloon device has been activated",
  ]);
  expect(await error("balloon", { value: 1 << 27 })).toBe("No balloon device has been activated");
  expect(await error("screendump", { filename: join(dir, "s.ppm") })).toBe(
    "There is no console to take a screendump from",
  );
});
