/**
 * Command lines with `-drive` in the forms harnesses use, and what the block layer and the device tree then show
 * over QMP. `scripts/record-drives.ts` records real QEMU 7.2's outcome and replies into
 * `fixtures/qemu-7.2-drives.json`; `drives-emulator.test.ts` replays them against the emulator. The images are
 * made by the same code for both (raw files of zeroes, and qcow2s as QEMU 7.2 writes a new one), in `DRIVE_DIR`.
 * Refusals (a missing file, an unknown format, a duplicate id) are CLI cases (`cli-cases.ts`).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RawQMP, stripId } from "../../scripts/lib/raw-qmp.ts";
import { createQcow2Image } from "../../src/vm/block/qcow2.ts";
import { CLI_CASE_DIR } from "./cli-cases.ts";

export const DRIVE_DIR = CLI_CASE_DIR;

const MiB = 1024 * 1024;
const q35 = ["-machine", "q35,accel=tcg", "-m", "256", "-nodefaults", "-display", "none", "-S"];
const qmp = ["-qmp", `unix:${DRIVE_DIR}/probe.sock,server=on,wait=off`];

/** One QMP command sent once the VM is up; its reply is recorded without its id. */
export interface DriveQuery {
  readonly execute: string;
  readonly arguments?: Record<string, unknown>;
}

export interface DriveCase {
  readonly name: string;
  readonly args: readonly string[];
  /** Extra commands after the common ones (a device's `drive` property, say). */
  readonly queries?: readonly DriveQuery[];
}

/** What every case asks: the block layer's two listings, then where the devices sit. */
const COMMON: readonly DriveQuery[] = [
  { execute: "query-block" },
  { execute: "query-named-block-nodes", arguments: { flat: true } },
  { execute: "qom-list", arguments: { path: "/machine/peripheral" } },
  { execute: "qom-list", arguments: { path: "/machine/peripheral-anon" } },
  { execute: "query-pci" },
];

const image = (name: string) => `${DRIVE_DIR}/${name}`;

export const DRIVE_CASES: readonly DriveCase[] = [
  {
    name: "if=none qcow2 on a virtio-blk-pci",
    args: [
      ...q35,
      "-drive",
      `file=${image("disk.qcow2")},format=qcow2,if=none,id=drive0`,
      "-device",
      "virtio-blk-pci,drive=drive0,id=vd0",
    ],
    queries: [{ execute: "qom-get", arguments: { path: "/machine/peripheral/vd0", property: "drive" } }],
  },
  {
    name: "if=none raw, format probed, no device",
    args: [...q35, "-drive", `file=${image("disk.raw")},if=none,id=spare`],
  },
  {
    name: "if=none read-only CD-ROM image on a virtio-blk-pci",
    args: [
      ...q35,
      "-drive",
      `file=${image("cd.raw")},format=raw,if=none,id=cd0,media=cdrom,readonly=on`,
      "-device",
      '{"driver":"virtio-blk-pci","drive":"cd0","id":"vcd"}',
    ],
  },
  {
    name: "if=virtio raw and qcow2",
    args: [
      ...q35,
      "-drive",
      `file=${image("disk.raw")},format=raw,if=virtio`,
      "-drive",
      `file=${image("disk.qcow2")},if=virtio,readonly=on`,
    ],
    queries: [
      { execute: "qom-get", arguments: { path: "/machine/peripheral-anon/device[1]", property: "drive" } },
    ],
  },
  {
    name: "if=virtio after an anonymous -device, beside if=none",
    args: [
      ...q35,
      "-drive",
      `file=${image("cd.raw")},format=raw,if=virtio,media=cdrom`,
      "-drive",
      `file=${image("disk.qcow2")},format=qcow2,if=none,id=d1`,
      "-device",
      "virtio-blk-pci,drive=d1",
    ],
  },
];

/** The files every case may open (each case gets a fresh directory). */
export function makeDriveImages(dir: string): void {
  writeFileSync(join(dir, "disk.raw"), new Uint8Array(8 * MiB));
  writeFileSync(join(dir, "cd.raw"), new Uint8Array(2 * MiB));
  writeFileSync(join(dir, "disk.qcow2"), createQcow2Image({ size: 16 * MiB }));
}

/** The full command line of a case, monitor included. */
export function driveCaseArgs(testCase: DriveCase): string[] {
  return [...testCase.args, ...qmp];
}

/**
 * Sends the case's queries to the monitor at `socket` and returns each reply's text, normalised: the case's
 * directory as `DRIVE_DIR`, the two random digits QEMU ends an implicit node's name with (`#block1` + `46`),
 * and `actual-size` (what the host file system allocated).
 */
export async function queryDrives(socket: string, dir: string, testCase: DriveCase): Promise<string[]> {
  const peer = await RawQMP.connect(socket);
  try {
    const greeting = await peer.next(5000);
    if (greeting === undefined || !("QMP" in greeting.msg)) throw new Error("no greeting");
    await peer.execute("qmp_capabilities", undefined, 5000);
    const replies: string[] = [];
    for (const query of [...COMMON, ...(testCase.queries ?? [])]) {
      const reply = await peer.execute(query.execute, query.arguments, 10_000);
      replies.push(
        stripId(reply)
          .replaceAll(dir, DRIVE_DIR)
          .replace(/"#block(\d+)\d\d"/g, '"#block$1<rr>"')
          .replace(/"actual-size": \d+/g, '"actual-size": <n>'),
      );
    }
    return replies;
  } finally {
    peer.close();
  }
}
