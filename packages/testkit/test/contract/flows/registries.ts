/**
 * The registries a VM manager fills beside the devices: QOM objects (a memory backend, an iothread), netdevs,
 * chardevs, file descriptors passed over the monitor socket (getfd, add-fd), the balloon, a guest memory dump
 * (which pauses a running VM around it) and a screendump. Each with QEMU's refusal of a duplicate or a missing id.
 */
import { cmd, type Flow, withFd } from "./flow.ts";

const MiB = 1024 * 1024;

export const registries: Flow = {
  name: "registries",
  description:
    "object-add/del, iothreads, netdevs, chardevs, getfd/add-fd, balloon, dump-guest-memory, screendump",
  vm: {
    startPaused: true,
    devices: [
      { driver: "virtio-balloon-pci", id: "balloon0", bus: "pcie.0", addr: "0x3" },
      { driver: "VGA", id: "video0", bus: "pcie.0", addr: "0x4" },
    ],
  },
  async setup({ dir }) {
    await Bun.write(`${dir}/passed.txt`, "a file whose descriptor travels over the monitor socket\n");
  },
  steps: ({ dir }) => [
    cmd("object-add", { "qom-type": "memory-backend-ram", id: "mem0", size: 64 * MiB }),
    cmd("object-add", { "qom-type": "memory-backend-ram", id: "mem0", size: 64 * MiB }),
    cmd("object-add", { "qom-type": "iothread", id: "io0" }),
    cmd("object-add", { "qom-type": "no-such-type", id: "x0" }),
    cmd("query-iothreads"),
    cmd("qom-list", { path: "/objects" }),
    cmd("object-del", { id: "io0" }),
    cmd("object-del", { id: "io0" }),
    cmd("query-iothreads"),
    cmd("netdev_add", { type: "user", id: "net0" }),
    cmd("netdev_add", { type: "user", id: "net0" }),
    cmd("netdev_del", { id: "net0" }),
    cmd("netdev_del", { id: "net0" }),
    cmd("chardev-add", { id: "c0", backend: { type: "null", data: {} } }),
    cmd("chardev-add", { id: "c0", backend: { type: "null", data: {} } }),
    cmd("chardev-add", {
      id: "c1",
      backend: {
        type: "socket",
        data: { addr: { type: "unix", data: { path: `${dir}/c1.sock` } }, server: true, wait: false },
      },
    }),
    cmd("query-chardev"),
    cmd("chardev-remove", { id: "c0" }),
    cmd("chardev-remove", { id: "c0" }),
    withFd(`${dir}/passed.txt`, "getfd", { fdname: "fd0" }),
    cmd("getfd", { fdname: "fd1" }),
    cmd("closefd", { fdname: "fd0" }),
    cmd("closefd", { fdname: "fd0" }),
    withFd(`${dir}/passed.txt`, "add-fd", { "fdset-id": 1, opaque: "passed" }),
    cmd("query-fdsets"),
    cmd("remove-fd", { "fdset-id": 1 }),
    cmd("query-fdsets"),
    cmd("query-balloon"),
    cmd("balloon", { value: 128 * MiB }),
    cmd("query-balloon"),
    cmd("cont"),
    cmd("dump-guest-memory", { paging: false, protocol: `file:${dir}/guest.dump` }),
    cmd("query-dump"),
    cmd("screendump", { filename: `${dir}/screen.ppm` }),
    cmd("query-status"),
  ],
};
