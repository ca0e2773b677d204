/**
 * The block layer as a VM manager builds it with -blockdev style commands: protocol and format nodes (null-co,
 * file, raw, qcow2 created through blockdev-create, throttle over a throttle group), their listings, a disk on a
 * device, a resize, and the refusals to delete a node that is still used.
 */
import { cmd, type Flow, waitFor } from "./flow.ts";

const MiB = 1024 * 1024;

export const block: Flow = {
  name: "block",
  description:
    "blockdev-add null-co/file/raw/qcow2/throttle, query-named-block-nodes, query-block, resize, del",
  vm: {
    startPaused: true,
    devices: [{ driver: "pcie-root-port", id: "rp1", bus: "pcie.0", chassis: 1, port: 16, addr: "0x2" }],
  },
  async setup({ dir }) {
    await Bun.write(`${dir}/disk.raw`, new Uint8Array(MiB));
  },
  steps: ({ dir }) => [
    cmd("blockdev-add", { "node-name": "null0", driver: "null-co", size: 64 * MiB }),
    cmd("blockdev-add", { "node-name": "file0", driver: "file", filename: `${dir}/disk.raw` }),
    cmd("blockdev-add", { "node-name": "raw0", driver: "raw", file: "file0" }),
    cmd("blockdev-add", { "node-name": "file0", driver: "file", filename: `${dir}/disk.raw` }),
    cmd("blockdev-add", { "node-name": "missing", driver: "file", filename: `${dir}/missing.img` }),
    cmd("blockdev-add", { "node-name": "bad", driver: "no-such-driver" }),
    cmd("object-add", { "qom-type": "throttle-group", id: "tg0", limits: { "iops-total": 100 } }),
    cmd("blockdev-add", { "node-name": "thr0", driver: "throttle", "throttle-group": "tg0", file: "null0" }),
    cmd("query-named-block-nodes", { flat: true }),
    cmd("query-block"),
    cmd("device_add", { driver: "virtio-blk-pci", id: "vd0", drive: "raw0", bus: "rp1" }),
    cmd("query-block"),
    cmd("block_resize", { "node-name": "raw0", size: 2 * MiB }),
    cmd("block_resize", { "node-name": "null0", size: 32 * MiB }),
    cmd("query-named-block-nodes", { flat: true }),
    cmd("blockdev-del", { "node-name": "raw0" }),
    cmd("blockdev-del", { "node-name": "file0" }),
    cmd("blockdev-del", { "node-name": "null0" }),
    cmd("blockdev-del", { "node-name": "thr0" }),
    cmd("blockdev-del", { "node-name": "null0" }),
    cmd("blockdev-del", { "node-name": "no-such-node" }),
    cmd("object-del", { id: "tg0" }),
    cmd("blockdev-create", {
      "job-id": "create-file",
      options: { driver: "file", filename: `${dir}/disk.qcow2`, size: 0 },
    }),
    // created and running came with the reply; blockdev-create jobs wait for a manual dismiss.
    waitFor("JOB_STATUS_CHANGE", 3),
    cmd("job-dismiss", { id: "create-file" }),
    cmd("blockdev-add", { "node-name": "qfile", driver: "file", filename: `${dir}/disk.qcow2` }),
    cmd("blockdev-create", {
      "job-id": "create-qcow2",
      options: { driver: "qcow2", file: "qfile", size: 8 * MiB },
    }),
    waitFor("JOB_STATUS_CHANGE", 3),
    cmd("job-dismiss", { id: "create-qcow2" }),
    cmd("blockdev-add", { "node-name": "q0", driver: "qcow2", file: "qfile" }),
    cmd("query-named-block-nodes", { flat: true }),
    cmd("blockdev-del", { "node-name": "q0" }),
    cmd("query-named-block-nodes", { flat: true }),
  ],
};
