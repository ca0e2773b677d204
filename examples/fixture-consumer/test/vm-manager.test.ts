// The VM manager's tests, with @qmpkit/testkit's fake QEMU as the fixture: a fresh fake per test, scripted where
// the fake does not model QEMU (block devices), events pushed from the test, and faults to break the wire.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { type CommandContext, createFakeQemu, type FakeQemu, faults, QMPCommandError } from "@qmpkit/testkit";
import { VmError, VmManager } from "../src/vm-manager";

let fake: FakeQemu;
let manager: VmManager | undefined;

beforeEach(async () => {
  fake = await createFakeQemu();
});

afterEach(async () => {
  await manager?.detach();
  manager = undefined;
  await fake.close();
});

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Scripts the block layer the fake does not model: block nodes, then devices that must name an existing node. */
function scriptBlockLayer(target: FakeQemu): void {
  const nodes = new Set<string>();
  const devices: { id: string; drive: string }[] = [];
  target.handle("blockdev-add", (args) => {
    const name = String(args["node-name"]);
    if (nodes.has(name))
      throw new QMPCommandError("GenericError", `Duplicate nodes with node-name='${name}'`);
    nodes.add(name);
  });
  // device_add carries device properties (`drive`) beyond the schema's members, as QEMU allows.
  target.handle("device_add", (args, ctx: CommandContext) => {
    const drive = String(args.drive);
    if (!nodes.has(drive)) ctx.fail("GenericError", `Drive '${drive}' not found`);
    devices.push({ id: String(args.id), drive });
  });
  target.handle("query-block", () =>
    devices.map((d) => ({
      device: "",
      qdev: d.id,
      locked: false,
      removable: false,
      type: "unknown",
      inserted: { "node-name": d.drive },
    })),
  );
}

test("attaches a disk: blockdev-add first, then a device_add that names its node", async () => {
  scriptBlockLayer(fake);
  manager = await VmManager.attach(fake.address);

  await manager.attachDisk({ id: "data0", file: "/var/lib/vms/data0.img" });

  expect(await manager.disks()).toEqual(["data0"]);
  const sent = fake.received.map((r) => (r.message as { execute?: string }).execute);
  expect(sent).toEqual(["qmp_capabilities", "query-status", "blockdev-add", "device_add", "query-block"]);
  expect(fake.received[3]?.message).toMatchObject({
    arguments: { driver: "virtio-blk-pci", id: "data0", drive: "data0-node" },
  });
});

test("a refused hot-plug is a VmError carrying QEMU's error class and text", async () => {
  scriptBlockLayer(fake);
  manager = await VmManager.attach(fake.address);
  await manager.attachDisk({ id: "data0", file: "/var/lib/vms/data0.img" });

  const error = await manager
    .attachDisk({ id: "data0", file: "/var/lib/vms/other.img" })
    .catch((e: unknown) => e);

  expect(error).toBeInstanceOf(VmError);
  expect((error as VmError).code).toBe("QEMU_REFUSED");
  expect((error as VmError).message).toBe(
    "attach disk data0: GenericError: Duplicate nodes with node-name='data0-node'",
  );
});

test("pauses and resumes the VM", async () => {
  manager = await VmManager.attach(fake.address);
  expect(manager.state).toBe("running");

  await manager.pause();
  expect(manager.state).toBe("paused");
  expect(fake.status).toBe("paused"); // the fake's VM state followed stop, as QEMU's would

  await manager.resume();
  expect(manager.state).toBe("running");
  expect(fake.status).toBe("running");
});

test("follows a pause and resume by someone else through QEMU's STOP and RESUME events", async () => {
  manager = await VmManager.attach(fake.address);

  fake.emit("STOP");
  await manager.until("paused");
  fake.emit("RESUME");
  await manager.until("running");
});

test("notices a guest-initiated shutdown from the SHUTDOWN event", async () => {
  manager = await VmManager.attach(fake.address);

  fake.emit("SHUTDOWN", { guest: true, reason: "guest-shutdown" });

  expect(await within(manager.whenShutDown(), 5_000)).toEqual({ guest: true, reason: "guest-shutdown" });
  expect(manager.state).toBe("shut down");
});

test("a QEMU that dies mid-reply fails the command with QEMU_GONE and the VM is marked gone", async () => {
  // The fault cuts the connection halfway through query-block's reply, as if QEMU were killed while writing.
  fake.inject(faults.closeMidMessage("query-block"));
  scriptBlockLayer(fake);
  manager = await VmManager.attach(fake.address);

  const error = await within(
    manager.disks().catch((e: unknown) => e),
    5_000,
  );

  expect(error).toBeInstanceOf(VmError);
  expect((error as VmError).code).toBe("QEMU_GONE");
  expect(
    await within(
      manager.whenShutDown().catch((e: VmError) => e.code),
      5_000,
    ),
  ).toBe("QEMU_GONE");
  expect(manager.state).toBe("gone");
});

test("a command QEMU never answers fails with QEMU_TIMEOUT instead of hanging", async () => {
  await fake.close();
  fake = await createFakeQemu({ faults: [faults.delay("query-block", 60_000)] });
  manager = await VmManager.attach(fake.address, { commandTimeoutMs: 200 });

  const error = await within(
    manager.disks().catch((e: unknown) => e),
    5_000,
  );

  expect((error as VmError).code).toBe("QEMU_TIMEOUT");
  expect(manager.state).toBe("running"); // a slow command says nothing about the VM
});
