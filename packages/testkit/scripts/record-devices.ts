#!/usr/bin/env bun
/**
 * Records, per device type a VM manager plugs, what real QEMU shows of one instance on q35 (started with `-S`):
 * its QOM subtree (`qom-list` of every object along `child<…>`, `qom-get` of every property, and what `qom-set`
 * of each property to its own value answers, since a realized device refuses most of them with a text that names
 * the object really holding the property), and its `query-pci` entry. Each type is recorded cold-plugged (given
 * on the command line, on `pcie.0`) and, where QEMU allows it, hotplugged (`device_add` onto a root port).
 *
 *   bun run --cwd packages/testkit record-devices        # QEMU on PATH (~30 s)
 *
 * Writes profiles/qemu-<major.minor>/devices.json.gz, which src/vm/devices/catalogue.ts reads.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  DEVICES_FORMAT,
  type DeviceRecording,
  type DevicesData,
  type InstanceRecording,
} from "../src/vm/devices/format.ts";
import { type RawQMP, RecordingQemu, stripId } from "./lib/raw-qmp.ts";

const { values } = parseArgs({
  options: {
    qemu: { type: "string", default: "qemu-system-x86_64" },
    "socket-dir": { type: "string", default: tmpdir() },
  },
});
const command = (values.qemu as string).split(/\s+/).filter((word) => word.length > 0);

/** The ids of the recorded instances: unusual enough to be replaced wherever they appear in a reply. */
export const COLD_ID = "qmpkitcold";
export const HOT_ID = "qmpkithot";

const MACHINE = [
  "-machine",
  "q35,accel=tcg",
  "-m",
  "256",
  "-nodefaults",
  "-no-user-config",
  "-display",
  "none",
  "-S",
];
/** What every recording QEMU has: root ports to hotplug on, backends for the devices that need one. */
const BASE = [
  "-device",
  '{"driver":"pcie-root-port","id":"qmpkitrp1","bus":"pcie.0","chassis":1,"port":16,"addr":"0x2"}',
  "-netdev",
  "user,id=qmpkitnet",
  "-blockdev",
  '{"driver":"null-co","node-name":"qmpkitdisk1","size":16777216}',
  "-blockdev",
  '{"driver":"null-co","node-name":"qmpkitdisk2","size":16777216}',
  "-device",
  '{"driver":"virtio-scsi-pci","id":"qmpkitscsi","bus":"pcie.0","addr":"0x4"}',
  "-chardev",
  "null,id=qmpkitchar",
];

interface TypeSpec {
  driver: string;
  /** Extra properties of both instances (backends). */
  cold?: Record<string, unknown>;
  hot?: Record<string, unknown> | false;
  /** A type on a bus other than PCI: its bus for both instances. */
  bus?: string;
}

const TYPES: TypeSpec[] = [
  { driver: "pcie-root-port", cold: { chassis: 3, port: 18 }, hot: false },
  { driver: "virtio-net-pci", cold: { netdev: "qmpkitnet" }, hot: {} },
  { driver: "virtio-blk-pci", cold: { drive: "qmpkitdisk1" }, hot: { drive: "qmpkitdisk2" } },
  { driver: "virtio-scsi-pci" },
  { driver: "scsi-hd", bus: "qmpkitscsi.0", cold: { drive: "qmpkitdisk1" }, hot: { drive: "qmpkitdisk2" } },
  { driver: "virtio-balloon-pci" },
  { driver: "virtio-serial-pci" },
  { driver: "virtio-rng-pci" },
  { driver: "VGA", hot: false },
  { driver: "e1000e", cold: { netdev: "qmpkitnet" }, hot: {} },
  { driver: "qemu-xhci" },
  // libvirt's <serial type='pty'>: on the q35's LPC ISA bus, which takes no hotplug.
  { driver: "isa-serial", bus: "isa.0", cold: { chardev: "qmpkitchar", index: 0 }, hot: false },
];

const SET_SKIPPED = new Set(["realized", "drive"]);

async function recordInstance(peer: RawQMP, root: string): Promise<InstanceRecording> {
  const nodes: InstanceRecording["nodes"] = {};
  const pending = [root];
  while (pending.length > 0) {
    const path = pending.shift() as string;
    const listed = await peer.execute("qom-list", { path });
    const list = (listed.msg.return ?? []) as { name: string; type: string }[];
    const get: Record<string, string> = {};
    const set: Record<string, string> = {};
    for (const property of list) {
      const got = await peer.execute("qom-get", { path, property: property.name });
      get[property.name] = stripId(got);
      if (property.type.startsWith("child<")) {
        pending.push(`${path}/${property.name}`);
        continue;
      }
      // Only the device's own properties: `realized` would unplug, links and unreadable properties have no value
      // to put back, and setting `drive` on a realized device makes QEMU 7.2 abort.
      if (
        path !== root ||
        SET_SKIPPED.has(property.name) ||
        property.type.startsWith("link<") ||
        !("return" in got.msg)
      )
        continue;
      const value = got.msg.return;
      set[property.name] = stripId(await peer.execute("qom-set", { path, property: property.name, value }));
    }
    nodes[path === root ? "" : path.slice(root.length + 1)] = { list: stripId(listed), get, set };
  }
  return { nodes };
}

async function recordType(spec: TypeSpec): Promise<DeviceRecording> {
  const bus = spec.bus ?? "pcie.0";
  const coldArgs = {
    driver: spec.driver,
    id: COLD_ID,
    bus,
    ...(spec.bus ? {} : { addr: "0x5" }),
    ...spec.cold,
  };
  const socketDir = values["socket-dir"] as string;
  const { qemu, peer } = await RecordingQemu.start({
    command,
    args: [...MACHINE, ...BASE, "-device", JSON.stringify(coldArgs)],
    socketDir,
  });
  try {
    const recording: DeviceRecording = {
      coldArgs,
      cold: await recordInstance(peer, `/machine/peripheral/${COLD_ID}`),
    };
    const pci = (await peer.execute("query-pci")).msg.return as { devices: { qdev_id: string }[] }[];
    const entry = pci[0]?.devices.find((d) => d.qdev_id === COLD_ID);
    if (entry) recording.pci = JSON.stringify(entry);
    if (spec.hot !== false) {
      const hotArgs = {
        driver: spec.driver,
        id: HOT_ID,
        bus: spec.bus ?? "qmpkitrp1",
        ...(spec.hot ?? spec.cold),
      };
      const added = await peer.execute("device_add", hotArgs);
      if ("return" in added.msg) {
        recording.hotArgs = hotArgs;
        recording.hot = await recordInstance(peer, `/machine/peripheral/${HOT_ID}`);
      } else {
        recording.hotError = stripId(added);
      }
    }
    return recording;
  } finally {
    peer.close();
    await qemu.stop();
  }
}

const types: Record<string, DeviceRecording> = {};
let version = "";
for (const spec of TYPES) {
  process.stderr.write(`${spec.driver}…\n`);
  types[spec.driver] = await recordType(spec);
}
{
  const { qemu, greeting } = await RecordingQemu.start({
    command,
    args: MACHINE,
    socketDir: values["socket-dir"] as string,
  });
  await qemu.stop();
  const v = (greeting.msg.QMP as { version: { qemu: { major: number; minor: number; micro: number } } })
    .version.qemu;
  version = `${v.major}.${v.minor}.${v.micro}`;
}
const data: DevicesData = { format: DEVICES_FORMAT, qemu: version, coldId: COLD_ID, hotId: HOT_ID, types };
const dir = join(import.meta.dir, "..", "profiles", `qemu-${version.split(".").slice(0, 2).join(".")}`);
mkdirSync(dir, { recursive: true });
const out = join(dir, "devices.json.gz");
writeFileSync(out, Bun.gzipSync(new TextEncoder().encode(JSON.stringify(data)), { level: 9 }));
process.stderr.write(`wrote ${out}\n`);
