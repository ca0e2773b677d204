/**
 * Devices and the QOM tree: device_add/device_del with QEMU 7.2's refusals, devices in /machine/peripheral with
 * their recorded properties, query-pci, cold-plugged devices, and unplugs the guest acknowledges.
 */
import { afterEach, expect, test } from "bun:test";
import { connect, type ExecuteError, type QMPClient } from "@qmpkit/qmp";
import type { QMPCommandError } from "../../src/errors.ts";
import { createFakeQemu, type FakeQemu, type FakeQemuOptions } from "../../src/index.ts";
import { ManualClock } from "../../src/vm/clock.ts";
import { Devices } from "../../src/vm/devices/devices.ts";
import { loadMachine } from "../../src/vm/machine.ts";
import { Vm } from "../../src/vm/vm.ts";

const fakes: FakeQemu[] = [];
const clients: QMPClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.disconnect().catch(() => {});
  for (const f of fakes.splice(0)) await f.close();
});

const ROOT_PORTS = [
  {
    driver: "pcie-root-port",
    id: "rp1",
    bus: "pcie.0",
    chassis: 1,
    port: 16,
    addr: "0x2.0x0",
    multifunction: true,
  },
  { driver: "pcie-root-port", id: "rp2", bus: "pcie.0", chassis: 2, port: 17, addr: "0x2.0x1" },
];

async function setup(options: FakeQemuOptions = {}) {
  const fake = await createFakeQemu({ machine: "q35", status: "prelaunch", devices: ROOT_PORTS, ...options });
  fakes.push(fake);
  const client = await connect(fake.address);
  clients.push(client);
  const run = (command: string, args?: Record<string, unknown>) => client.executeUntyped(command, args);
  const refusal = async (command: string, args?: Record<string, unknown>) =>
    ((await run(command, args).catch((e) => e)) as ExecuteError).desc;
  return { fake, client, run, refusal };
}

const peripheralNames = async (run: (c: string, a?: Record<string, unknown>) => Promise<unknown>) =>
  ((await run("qom-list", { path: "/machine/peripheral" })) as { name: string }[]).map((p) => p.name);

test("device_add refuses as QEMU does: pcie.0, duplicate ids, unknown drivers, buses and properties", async () => {
  const { run, refusal } = await setup();
  const nic = { driver: "virtio-net-pci", id: "nic0", mac: "52:54:00:12:34:56" };
  expect(await refusal("device_add", { ...nic, bus: "pcie.0" })).toBe(
    "Bus 'pcie.0' does not support hotplugging",
  );
  expect(await refusal("device_add", nic)).toBe("Bus 'pcie.0' does not support hotplugging");
  await run("device_add", { ...nic, bus: "rp1" });
  expect(await refusal("device_add", { ...nic, bus: "rp2" })).toBe("Duplicate device ID 'nic0'");
  expect(await refusal("device_add", { driver: "no-such-device" })).toBe(
    "'no-such-device' is not a valid device model name",
  );
  expect(await refusal("device_add", { driver: "virtio-device" })).toBe(
    "Parameter 'driver' expects a non-abstract device type",
  );
  expect(await refusal("device_add", { driver: "virtio-net-pci", bus: "nobus" })).toBe(
    "Bus 'nobus' not found",
  );
  expect(await refusal("device_add", { driver: "virtio-net-pci", id: "bad id", bus: "rp2" })).toBe(
    "Parameter 'id' expects an identifier",
  );
  expect(await refusal("device_add", { driver: "virtio-net-pci", id: "n2", bus: "rp2", "no-such": 1 })).toBe(
    "Property 'virtio-net-pci.no-such' not found",
  );
  expect(await refusal("device_add", { driver: "virtio-net-pci", id: "n3", bus: "rp1", addr: "0x0" })).toBe(
    "PCI: slot 0 function 0 not available for virtio-net-pci, in use by virtio-net-pci,id=nic0",
  );
  expect(await refusal("device_add", { driver: "scsi-hd", id: "sd0", bus: "rp2", drive: "x" })).toBe(
    "Device 'scsi-hd' can't go on PCIE bus",
  );
  expect(
    await refusal("device_add", {
      driver: "qemu64-x86_64-cpu",
      "socket-id": 1,
      "core-id": 0,
      "thread-id": 0,
    }),
  ).toBe("Invalid CPU socket-id: 1 must be in range 0:0");
});

test("a hotplugged device is in /machine/peripheral with its recorded properties and the values it was given", async () => {
  const { run, refusal } = await setup();
  await run("device_add", { driver: "virtio-net-pci", id: "nic0", bus: "rp1", mac: "52:54:00:12:34:56" });
  // GLib's hash order, reversed, after the class's `type`: what QEMU 7.2 lists for these names.
  expect(await peripheralNames(run)).toEqual(["type", "rp1", "rp2", "nic0"]);
  const get = (property: string) => run("qom-get", { path: "/machine/peripheral/nic0", property });
  expect(await get("mac")).toBe("52:54:00:12:34:56");
  expect(await get("type")).toBe("virtio-net-pci");
  expect(await get("hotplugged")).toBe(true);
  expect(await get("parent_bus")).toBe("/machine/peripheral/rp1/rp1");
  expect(await run("qom-get", { path: "/machine/peripheral/rp1", property: "hotplugged" })).toBe(false);
  expect(await refusal("qom-get", { path: "/machine/peripheral/nic0", property: "nope" })).toBe(
    "Property 'virtio-net-pci.nope' not found",
  );
  expect(await refusal("qom-set", { path: "/machine/peripheral/nic0", property: "mac", value: "x" })).toBe(
    "Attempt to set property 'mac' on anonymous device (type 'virtio-net-device') after it was realized",
  );
  expect(await refusal("qom-list", { path: "rp1" })).toBe("Path 'rp1' is ambiguous");
  const backend = (await run("qom-list", { path: "/machine/peripheral/nic0/virtio-backend" })) as unknown[];
  expect(backend.length).toBeGreaterThan(10);
});

test("query-pci lists devices on pcie.0 by slot and none behind a root port before the firmware ran", async () => {
  const { run } = await setup();
  await run("device_add", { driver: "virtio-net-pci", id: "nic0", bus: "rp1" });
  const [bus] = (await run("query-pci")) as {
    devices: { slot: number; function: number; qdev_id: string }[];
  }[];
  expect(bus?.devices.map((d) => [d.slot, d.function, d.qdev_id])).toEqual([
    [0, 0, ""],
    [2, 0, "rp1"],
    [2, 1, "rp2"],
    [31, 0, ""],
    [31, 2, ""],
    [31, 3, ""],
  ]);
});

test("with no guest OS an unplug never completes; a cold device on pcie.0 cannot be unplugged", async () => {
  const { run, refusal, client } = await setup();
  const events = client.listen({ names: ["DEVICE_DELETED"] });
  await run("device_add", { driver: "virtio-net-pci", id: "nic0", bus: "rp1" });
  expect(await run("device_del", { id: "nic0" })).toEqual({});
  expect(await refusal("device_del", { id: "nic0" })).toBe("Device nic0 is already in the process of unplug");
  expect(await refusal("device_del", { id: "nope" })).toBe("Device 'nope' not found");
  expect(await refusal("device_del", { id: "rp1" })).toBe("Bus 'pcie.0' does not support hotplugging");
  expect(await peripheralNames(run)).toContain("nic0");
  expect(events.empty()).toBe(true);
});

test("the guest acknowledges unplugs: DEVICE_DELETED for the virtio backend, then the device; its drive is free", async () => {
  const { fake, run, client } = await setup({ status: "running", clock: "manual" });
  fake.guest.ackUnplugs();
  const events = client.listen({ names: ["DEVICE_DELETED"] });
  await run("blockdev-add", { "node-name": "disk0", driver: "null-co", size: 16777216 });
  await run("device_add", { driver: "virtio-blk-pci", id: "vd0", drive: "disk0", bus: "rp1" });
  await run("device_del", { id: "vd0" });
  expect(events.empty()).toBe(true);
  await fake.clock.advance(1000);
  expect(await events.get()).toMatchObject({ data: { path: "/machine/peripheral/vd0/virtio-backend" } });
  expect(await events.get()).toMatchObject({ data: { device: "vd0", path: "/machine/peripheral/vd0" } });
  expect(await peripheralNames(run)).not.toContain("vd0");
  // The node is no device's drive any more: another device may take it.
  await run("device_add", { driver: "virtio-blk-pci", id: "vd1", drive: "disk0", bus: "rp2" });
});

test("fake.guest.ackUnplug(id) answers one pending unplug at the moment the test chooses", async () => {
  const { fake, run, client } = await setup({ status: "running" });
  const events = client.listen({ names: ["DEVICE_DELETED"] });
  await run("device_add", { driver: "virtio-net-pci", bus: "rp2" });
  await run("device_del", { id: "/machine/peripheral-anon/device[0]" });
  fake.guest.ackUnplug("/machine/peripheral-anon/device[0]");
  expect((await events.get()).data).toEqual({ path: "/machine/peripheral-anon/device[0]/virtio-backend" });
  expect((await events.get()).data).toEqual({ path: "/machine/peripheral-anon/device[0]" });
  expect(() => fake.guest.ackUnplug("nic9")).toThrow("No unplug of nic9 is pending");
});

test("drives: not set, and a node another device writes to, as QEMU refuses them", async () => {
  const { run, refusal } = await setup();
  await run("blockdev-add", { "node-name": "disk0", driver: "null-co", size: 16777216 });
  await run("device_add", { driver: "virtio-blk-pci", id: "vd0", drive: "disk0", bus: "rp1" });
  expect(await refusal("device_add", { driver: "virtio-blk-pci", id: "vd1", bus: "rp2" })).toBe(
    "drive property not set",
  );
  expect(
    await refusal("device_add", { driver: "virtio-blk-pci", id: "vd1", drive: "disk0", bus: "rp2" }),
  ).toBe(
    "Permission conflict on node 'disk0': permissions 'write' are both required by block device " +
      "'/machine/peripheral/vd0/virtio-backend' (uses node 'disk0' as 'root' child) and unshared by block device " +
      "'/machine/peripheral/vd1/virtio-backend' (uses node 'disk0' as 'root' child).",
  );
});

test("a device QEMU would refuse on the command line makes createFakeQemu reject with QEMU's error", async () => {
  const failed = (await createFakeQemu({
    machine: "q35",
    devices: [{ driver: "virtio-blk-pci", id: "vd0" }],
  }).catch((e) => e)) as Error;
  expect(failed.message).toContain("drive property not set");
});

test("a command-line device the model cannot build is reported in fake.errors and left out, not fatal", async () => {
  // A memory device: on no bus the model knows.
  const fake = await createFakeQemu({ machine: "q35", devices: [{ driver: "pc-dimm", id: "dimm0" }] });
  fakes.push(fake);
  expect(fake.errors.map((e) => e.message).join("\n")).toContain("pc-dimm");
  const client = await connect(fake.address);
  clients.push(client);
  const refused = (await client
    .executeUntyped("device_add", { driver: "pc-dimm" })
    .catch((e) => e)) as ExecuteError;
  expect(refused.desc).toContain("not implemented");
});

test("a NIC's netdev: one NIC per netdev, and only netdevs that exist once a registry says which do", async () => {
  const { run, refusal } = await setup();
  await run("device_add", { driver: "virtio-net-pci", id: "nic0", bus: "rp1", netdev: "net0" });
  expect(await refusal("device_add", { driver: "e1000e", id: "nic1", bus: "rp2", netdev: "net0" })).toBe(
    "Property 'e1000e.netdev' can't take value 'net0', it's in use",
  );
  // The registries model tells devices which netdevs exist; a VM with only the device model shows the hook.
  const vm = new Vm({
    machine: await loadMachine("q35"),
    clock: new ManualClock(),
    config: {
      status: "prelaunch",
      version: { qemu: { major: 7, minor: 2, micro: 22 }, package: "" },
      name: undefined,
    },
    host: { emit() {}, quit() {}, exit() {}, reportError() {} },
    subsystems: [Devices],
  });
  vm.get(Devices).useNetdevs({ has: (id) => id === "net0" });
  const ctx = { client: 0, command: "device_add", signal: new AbortController().signal, afterReply() {} };
  vm.get(Devices).add({ driver: "pcie-root-port", id: "rp1", bus: "pcie.0", chassis: 1 }, ctx);
  const added = vm.commandHandler("device_add");
  const attempt = (netdev: string) => {
    try {
      added?.({ driver: "virtio-net-pci", id: `n-${netdev}`, bus: "rp1", netdev }, { ...ctx, client: 1 });
      return "added";
    } catch (error) {
      return (error as QMPCommandError).desc;
    }
  };
  expect(attempt("nonet")).toBe("Property 'virtio-net-device.netdev' can't find value 'nonet'");
  expect(attempt("net0")).toBe("added");
});

test("HMP device_add, device_del, qom-list and qom-get print what QEMU 7.2 prints; NICs get QEMU's default MACs", async () => {
  const { run } = await setup();
  const hmp = (line: string) => run("human-monitor-command", { "command-line": line });
  expect(await hmp("device_del nope")).toBe("Error: Device 'nope' not found\r\n");
  expect(await hmp("device_add virtio-net-pci,id=n1,bus=rp1")).toBe("");
  expect(await hmp("device_add virtio-net-pci,id=n1,bus=rp1")).toBe("Error: Duplicate device ID 'n1'\r\n");
  expect(await hmp("device_add nosuch")).toBe("Error: 'nosuch' is not a valid device model name\r\n");
  expect(await hmp("device_add")).toBe("Error: Parameter 'driver' is missing\r\n");
  expect(await hmp("device_del n1")).toBe("");
  expect(await hmp("qom-get /machine/peripheral/n1 mac")).toBe('"52:54:00:12:34:56"\r\n');
  expect(await hmp("qom-list /machine/peripheral")).toBe(
    "type (string)\r\nn1 (child<virtio-net-pci>)\r\nrp1 (child<pcie-root-port>)\r\nrp2 (child<pcie-root-port>)\r\n",
  );
  await run("device_add", { driver: "e1000e", id: "n2", bus: "rp2" });
  expect(await run("qom-get", { path: "/machine/peripheral/n2", property: "mac" })).toBe("52:54:00:12:34:57");
});

test("no hotplug or unplug while a migration runs, after the bus check, as QEMU 7.2 refuses them", async () => {
  const { fake, run, refusal } = await setup({ clock: "manual" });
  await run("device_add", { driver: "virtio-net-pci", id: "nic0", bus: "rp1" });
  await run("migrate-set-parameters", { "max-bandwidth": 1000 });
  await run("migrate", { uri: "exec:cat > /dev/null" });
  expect(await refusal("device_add", { driver: "virtio-net-pci", id: "n1", bus: "rp2" })).toBe(
    "device_add not allowed while migrating",
  );
  expect(await refusal("device_add", { driver: "virtio-net-pci", id: "n1", bus: "pcie.0" })).toBe(
    "Bus 'pcie.0' does not support hotplugging",
  );
  expect(await refusal("device_del", { id: "nic0" })).toBe("device_del not allowed while migrating");
  await run("migrate_cancel");
  await fake.clock.advance(1000);
  expect(await run("device_del", { id: "nic0" })).toEqual({});
});
