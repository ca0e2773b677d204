/**
 * GLib's hash-table order, which `qom-list` of /machine/peripheral follows. The expected lists are what real QEMU
 * 7.2 listed for this history (a virtio-scsi controller, 14 scsi-hd added, 10 removed, 3 added again: removals of
 * SCSI disks are immediate, so the table grows, shrinks and reuses tombstones), recorded with a scratch script.
 */
import { expect, test } from "bun:test";
import { GHashOrder, gStrHash } from "../../src/vm/devices/ghash.ts";

const listed = (order: GHashOrder) => order.keys().reverse();

test("g_str_hash is djb2 over the bytes, in 32 bits", () => {
  expect(gStrHash("")).toBe(5381);
  expect(gStrHash("a")).toBe(5381 * 33 + 97);
});

test("adds, removals and re-adds list in the order QEMU 7.2 lists them", () => {
  const order = new GHashOrder();
  order.add("scsi0");
  const names = Array.from({ length: 14 }, (_, i) => `disk-${i}`);
  for (const name of names) order.add(name);
  expect(listed(order)).toEqual([
    "disk-13",
    "disk-12",
    "disk-5",
    "disk-6",
    "scsi0",
    "disk-0",
    "disk-7",
    "disk-1",
    "disk-8",
    "disk-2",
    "disk-9",
    "disk-3",
    "disk-10",
    "disk-4",
    "disk-11",
  ]);
  for (const i of [3, 7, 0, 11, 12, 5, 1, 2, 4, 6]) order.delete(names[i] as string);
  expect(listed(order)).toEqual(["disk-13", "scsi0", "disk-8", "disk-9", "disk-10"]);
  for (const i of [3, 0, 7]) order.add(names[i] as string);
  expect(listed(order)).toEqual([
    "disk-13",
    "scsi0",
    "disk-0",
    "disk-7",
    "disk-8",
    "disk-9",
    "disk-3",
    "disk-10",
  ]);
});

test("the flows' root ports and devices list as recorded", () => {
  const devices = new GHashOrder();
  for (const name of ["rp1", "rp2", "nic0", "vd0"]) devices.add(name);
  expect(listed(devices)).toEqual(["rp1", "rp2", "vd0", "nic0"]);
  const startup = new GHashOrder();
  for (const name of ["pci.1", "pci.2", "balloon0"]) startup.add(name);
  expect(listed(startup)).toEqual(["balloon0", "pci.1", "pci.2"]);
});
