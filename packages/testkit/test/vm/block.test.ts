/**
 * The block node registry: blockdev-add/del with QEMU 7.2's refusals, query-named-block-nodes (newest first,
 * QEMU's filenames), block_resize changing the host file, and the attach hook devices use.
 */
import { expect, onTestFinished, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type ExecuteError } from "@qmpkit/qmp";
import { createFakeQemu } from "../../src/index.ts";
import { fakeSession } from "./fake-session.ts";

const MiB = 1024 * 1024;

async function setup() {
  const { client, dir } = await fakeSession({ status: "prelaunch" });
  const run = (command: string, args?: Record<string, unknown>) => client.executeUntyped(command, args);
  const failure = (command: string, args?: Record<string, unknown>) =>
    run(command, args).then(
      () => "no error",
      (error: ExecuteError) => error.desc,
    );
  return { dir, run, failure };
}

type NodeInfo = Record<string, unknown> & { image: Record<string, unknown> };

test("nodes are listed newest first, with QEMU's filenames and image members per driver", async () => {
  const { dir, run } = await setup();
  const path = join(dir, "disk.raw");
  await Bun.write(path, new Uint8Array(1000));
  await run("blockdev-add", { "node-name": "plain", driver: "null-co" });
  await run("blockdev-add", { "node-name": "sized", driver: "null-co", size: 4 * MiB, "read-zeroes": true });
  await run("blockdev-add", { "node-name": "f", driver: "file", filename: path });
  await run("blockdev-add", { "node-name": "r", driver: "raw", file: "f", "read-only": true });
  const nodes = (await run("query-named-block-nodes", { flat: true })) as NodeInfo[];
  expect(nodes.map((n) => n["node-name"])).toEqual(["r", "f", "sized", "plain"]);
  const [r, f, sized, plain] = nodes;
  expect(plain?.file).toBe("null-co://");
  expect(plain?.image["virtual-size"]).toBe(1 << 30);
  expect(sized?.file).toBe('json:{"read-zeroes": true, "driver": "null-co", "size": 4194304}');
  expect("dirty-flag" in (sized?.image ?? {})).toBe(false);
  // A file's length is reported in whole sectors.
  expect(f?.image).toMatchObject({
    "virtual-size": 1024,
    filename: path,
    format: "file",
    "dirty-flag": false,
  });
  expect(r).toMatchObject({ ro: true, drv: "raw", file: path });
});

test("blockdev-add and blockdev-del refuse as QEMU does", async () => {
  const { dir, run, failure } = await setup();
  const path = join(dir, "disk.raw");
  await Bun.write(path, new Uint8Array(MiB));
  expect(await failure("blockdev-add", { driver: "null-co" })).toBe(
    "'node-name' must be specified for the root node",
  );
  expect(await failure("blockdev-add", { "node-name": "#x", driver: "null-co" })).toBe(
    "Invalid node-name: '#x'",
  );
  await run("blockdev-add", { "node-name": "f", driver: "file", filename: path });
  expect(await failure("blockdev-add", { "node-name": "f", driver: "null-co" })).toBe(
    "Duplicate nodes with node-name='f'",
  );
  expect(await failure("blockdev-add", { "node-name": "q", driver: "qcow2", file: "f" })).toBe(
    "Image is not in qcow2 format",
  );
  expect(await failure("blockdev-add", { "node-name": "r", driver: "raw", file: "nope" })).toBe(
    "Cannot find device='nope' nor node-name='nope'",
  );
  expect(
    await failure("blockdev-add", { "node-name": "t", driver: "throttle", "throttle-group": "g", file: "f" }),
  ).toBe("Throttle group 'g' does not exist");
  await run("blockdev-add", { "node-name": "r", driver: "raw", file: "f" });
  expect(await failure("blockdev-del", { "node-name": "f" })).toBe("Block device f is in use");
  expect(await failure("blockdev-del", { "node-name": "gone" })).toBe(
    "Failed to find node with node-name='gone'",
  );
  await run("blockdev-del", { "node-name": "r" });
  await run("blockdev-del", { "node-name": "f" });
  expect(await run("query-named-block-nodes")).toEqual([]);
});

test("block_resize changes the host file under a raw node; null-co cannot be resized", async () => {
  const { dir, run, failure } = await setup();
  const path = join(dir, "disk.raw");
  await Bun.write(path, new Uint8Array(MiB));
  await run("blockdev-add", { "node-name": "f", driver: "file", filename: path });
  await run("blockdev-add", { "node-name": "r", driver: "raw", file: "f" });
  await run("blockdev-add", { "node-name": "n", driver: "null-co" });
  await run("block_resize", { "node-name": "r", size: 3 * MiB });
  expect(statSync(path).size).toBe(3 * MiB);
  expect(await failure("block_resize", { "node-name": "n", size: MiB })).toBe(
    "Image format driver does not support resize",
  );
  expect(await failure("block_resize", { "node-name": "r", size: -5 })).toBe(
    "Parameter 'size' expects a >0 size",
  );
  expect(await failure("block_resize", { device: "nope", size: MiB })).toBe(
    "Cannot find device='nope' nor node-name=''",
  );
});

test("nodes created at start (the emulator's -blockdev, client 0) are the same nodes a client then sees", async () => {
  // No client yet while the nodes are made: the session's dir only, and a fake of its own.
  await using fake = await createFakeQemu({ status: "prelaunch" });
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-block-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  await Bun.write(join(dir, "d.raw"), new Uint8Array(MiB));
  expect(
    await fake.runAtStart("blockdev-add", { "node-name": "f", driver: "file", filename: join(dir, "d.raw") }),
  ).toBe(true);
  expect(await fake.runAtStart("blockdev-add", { "node-name": "r", driver: "raw", file: "f" })).toBe(true);
  await using client = await connect(fake.address);
  const nodes = (await client.executeUntyped("query-named-block-nodes", { flat: true })) as NodeInfo[];
  expect(nodes.map((n) => [n["node-name"], n.image["virtual-size"]])).toEqual([
    ["r", MiB],
    ["f", MiB],
  ]);
});

test("HMP drive_add/drive_del: an if=none drive over nodes QEMU names, with QEMU's texts", async () => {
  const { dir, run } = await setup();
  const path = join(dir, "d.raw");
  await Bun.write(path, new Uint8Array(MiB));
  const hmp = (line: string) => run("human-monitor-command", { "command-line": line });
  expect(await hmp(`drive_add 0 file=${path},if=none,id=d1,format=raw`)).toBe("OK\r\n");
  expect(await hmp(`drive_add 0 file=${path},if=none,id=d1,format=raw`)).toBe(
    "Duplicate ID 'd1' for drive\r\n",
  );
  expect(await hmp(`drive_add 0 file=${dir}/nope.raw,if=none,id=d2`)).toBe(
    `Could not open '${dir}/nope.raw': No such file or directory\r\n`,
  );
  expect(await hmp(`drive_add -n dummy file=${path},if=none,id=d3`)).toBe(
    "'node-name' needs to be specified\r\n",
  );
  expect(await hmp(`drive_add 0 file=${path},id=d4`)).toBe("Can't hot-add drive to type 1\r\n");
  const [drive = {}] = (await run("query-block")) as Record<string, unknown>[];
  expect(Object.keys(drive)).toEqual(["device", "locked", "removable", "inserted", "type"]);
  expect(drive).toMatchObject({ device: "d1", removable: true, inserted: { drv: "raw", file: path } });
  expect(String((drive.inserted as Record<string, unknown>)["node-name"])).toMatch(/^#block\d{3,}$/);
  expect(await hmp("drive_del d1")).toBe("");
  expect(await hmp("drive_del d1")).toBe("Device 'd1' not found\r\n");
  expect(await run("query-named-block-nodes")).toEqual([]);
});

test("a qcow2 whose header names a backing file opens it as implicit read-only nodes, gone with the qcow2", async () => {
  const { dir, run } = await setup();
  await Bun.write(join(dir, "base.raw"), new Uint8Array(2 * MiB));
  const { createQcow2Image } = await import("../../src/vm/block/qcow2.ts");
  const image = createQcow2Image({ size: 2 * MiB, backingFile: "base.raw", backingFormat: "raw" });
  await Bun.write(join(dir, "top.qcow2"), image);
  await run("blockdev-add", { "node-name": "tf", driver: "file", filename: join(dir, "top.qcow2") });
  await run("blockdev-add", { "node-name": "top", driver: "qcow2", file: "tf" });
  const nodes = (await run("query-named-block-nodes")) as NodeInfo[];
  // The qcow2 is named before its backing chain opens, so the chain lists first (newest first).
  expect(nodes.map((n) => [n.drv, n.ro])).toEqual([
    ["raw", true],
    ["file", true],
    ["qcow2", false],
    ["file", false],
  ]);
  expect(nodes[2]).toMatchObject({ backing_file_depth: 1, backing_file: "base.raw" });
  expect(nodes[2]?.image["backing-image"]).toMatchObject({ format: "raw", "virtual-size": 2 * MiB });
  expect(nodes[2]?.image["full-backing-filename"]).toBe(join(dir, "base.raw"));
  await run("blockdev-del", { "node-name": "top" });
  expect(((await run("query-named-block-nodes")) as NodeInfo[]).map((n) => n["node-name"])).toEqual(["tf"]);
});

test("throttle groups through object-add/object-del, with QEMU's texts for duplicates, limits and use", async () => {
  const { run, failure } = await setup();
  await run("object-add", { "qom-type": "throttle-group", id: "tg0", limits: { "iops-total": 100 } });
  expect(await failure("object-add", { "qom-type": "throttle-group", id: "tg0" })).toBe(
    "attempt to add duplicate property 'tg0' to object (type 'container')",
  );
  expect(await failure("object-add", { "qom-type": "throttle-group", id: "0bad" })).toBe(
    "Parameter 'id' expects an identifier",
  );
  expect(
    await failure("object-add", { "qom-type": "throttle-group", id: "tg1", limits: { "iops-total": -1 } }),
  ).toBe("bps/iops/max values must be within [0, 1000000000000000]");
  await run("blockdev-add", { "node-name": "n", driver: "null-co" });
  await run("blockdev-add", { "node-name": "t", driver: "throttle", "throttle-group": "tg0", file: "n" });
  expect(await failure("object-del", { id: "tg0" })).toBe("object 'tg0' is in use, can not be deleted");
  await run("blockdev-del", { "node-name": "t" });
  await run("object-del", { id: "tg0" });
  expect(await failure("object-del", { id: "tg0" })).toBe("object 'tg0' not found");
});
