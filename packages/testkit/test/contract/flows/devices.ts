/**
 * Hotplug as a VM manager does it on q35: a PCIe root port first (pcie.0 takes no hotplug), then a NIC and a
 * disk on root ports, QEMU's refusals, the QOM view of a device, and an unplug that never completes because no
 * guest OS acknowledges it.
 */
import { cmd, type Flow } from "./flow.ts";

export const devices: Flow = {
  name: "devices",
  description: "root ports, virtio-net/virtio-blk hotplug, device_add errors, QOM of a device, device_del",
  vm: {
    startPaused: true,
    devices: [
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
    ],
  },
  // Left in prelaunch: once SeaBIOS runs it programs bridge windows and BARs at its own pace, and query-pci
  // would show a race. Hotplug rules are the same in prelaunch (the machine is already built).
  steps: () => [
    cmd("netdev_add", { type: "user", id: "net0" }),
    cmd("device_add", {
      driver: "virtio-net-pci",
      id: "nic0",
      netdev: "net0",
      bus: "pcie.0",
      mac: "52:54:00:12:34:56",
    }),
    cmd("device_add", {
      driver: "virtio-net-pci",
      id: "nic0",
      netdev: "net0",
      bus: "rp1",
      mac: "52:54:00:12:34:56",
    }),
    cmd("blockdev-add", { "node-name": "disk0", driver: "null-co", size: 16777216 }),
    cmd("device_add", { driver: "virtio-blk-pci", id: "nic0", drive: "disk0", bus: "rp2" }),
    cmd("device_add", { driver: "virtio-blk-pci", id: "vd0", drive: "disk0", bus: "rp1" }),
    cmd("device_add", { driver: "no-such-device", id: "x0" }),
    cmd("device_add", {
      driver: "virtio-blk-pci",
      id: "vd0b",
      drive: "disk0",
      bus: "rp2",
      "no-such-prop": 1,
    }),
    cmd("device_add", { driver: "virtio-blk-pci", id: "vd0", drive: "disk0", bus: "rp2" }),
    cmd("device_add", { driver: "virtio-blk-pci", id: "vd1", bus: "rp2" }),
    cmd("device_add", { driver: "virtio-blk-pci", id: "vd1", drive: "disk0", bus: "rp2" }),
    cmd("query-pci"),
    cmd("qom-list", { path: "/machine/peripheral" }),
    cmd("qom-list", { path: "/machine/peripheral/nic0" }),
    cmd("qom-get", { path: "/machine/peripheral/nic0", property: "mac" }),
    cmd("qom-get", { path: "/machine/peripheral/nic0", property: "type" }),
    cmd("qom-get", { path: "/machine/peripheral/nic0", property: "realized" }),
    cmd("qom-get", { path: "/machine/peripheral/nic0", property: "no-such-prop" }),
    cmd("qom-set", { path: "/machine/peripheral/nic0", property: "mac", value: "52:54:00:00:00:01" }),
    cmd("qom-get", { path: "/machine/peripheral/nic0", property: "mac" }),
    cmd("qom-get", { path: "/machine/peripheral/no-such-device", property: "type" }),
    cmd("device_del", { id: "nic0" }),
    cmd("device_del", { id: "no-such-device" }),
    cmd("query-pci"),
    cmd("qom-list", { path: "/machine/peripheral" }),
    cmd("device_del", { id: "nic0" }),
    cmd("device_del", { id: "rp1" }),
    cmd("query-hotpluggable-cpus"),
    cmd("query-cpus-fast"),
    cmd("query-memory-devices"),
    cmd("device_add", { driver: "pcie-root-port", id: "rp3", bus: "pcie.0", chassis: 3 }),
    cmd("device_add", {
      driver: "qemu64-x86_64-cpu",
      id: "cpu1",
      "socket-id": 1,
      "core-id": 0,
      "thread-id": 0,
    }),
    // A SCSI controller behind a root port, an anonymous disk on its bus, and what QOM shows of them.
    cmd("device_add", { driver: "virtio-scsi-pci", id: "scsi0", bus: "rp2" }),
    cmd("device_add", { driver: "scsi-hd", id: "sd0", drive: "disk0", bus: "rp1" }),
    cmd("blockdev-add", { "node-name": "disk1", driver: "null-co", size: 16777216 }),
    cmd("device_add", { driver: "scsi-hd", drive: "disk1", bus: "scsi0.0" }),
    cmd("qom-list", { path: "/machine/peripheral-anon" }),
    cmd("qom-get", { path: "/machine/peripheral-anon/device[0]", property: "parent_bus" }),
    cmd("qom-get", { path: "/machine/peripheral-anon/device[0]", property: "hotplugged" }),
    cmd("qom-get", { path: "/machine/peripheral/rp1", property: "hotplugged" }),
    cmd("qom-list", { path: "rp1" }),
    cmd("device_add", { driver: "virtio-net-pci", id: "nic1", bus: "no-such-bus" }),
    cmd("device_add", { driver: "virtio-net-pci", id: "bad id", bus: "rp2" }),
    cmd("device_del", { id: "/machine" }),
    cmd("qom-list", { path: "/machine/peripheral" }),
  ],
};
