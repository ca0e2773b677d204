/**
 * The block model's hooks for other subsystems (a device attaching its drive, object-add defining a throttle
 * group), driven at the VmApi level: with the hooks playing object-add and device_add, every command of the
 * `block` flow gets real QEMU 7.2's recorded answer. Also query-blockstats' shapes and a transaction's drain.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QMPCommandError } from "../../src/errors.ts";
import type { JsonObject } from "../../src/types.ts";
import { Bitmaps } from "../../src/vm/block/bitmaps.ts";
import { Block } from "../../src/vm/block/block.ts";
import { BlockJobs } from "../../src/vm/block/block-jobs.ts";
import { BlockStats } from "../../src/vm/block/blockstats.ts";
import { Jobs } from "../../src/vm/block/jobs.ts";
import { ThrottleGroups } from "../../src/vm/block/throttle-groups.ts";
import { ManualClock } from "../../src/vm/clock.ts";
import type { Machine } from "../../src/vm/machine.ts";
import type { VmCommandContext } from "../../src/vm/types.ts";
import { Vm } from "../../src/vm/vm.ts";
import { block as blockFlow } from "../contract/flows/block.ts";

function machine(qemuVersion: "7.2" | "10.0" = "7.2"): Machine {
  return { name: "q35", qemuVersion, schema: [], commands: [], profile: undefined, replies: new Map() };
}

function makeVm(qemuVersion: "7.2" | "10.0" = "7.2") {
  const events: [string, unknown][] = [];
  const vm = new Vm({
    machine: machine(qemuVersion),
    clock: new ManualClock(),
    config: {
      status: "prelaunch",
      version: { qemu: { major: 7, minor: 2, micro: 22 }, package: "" },
      name: undefined,
    },
    host: { emit: (e, d) => events.push([e, d]), quit: () => {}, exit: () => {}, reportError: () => {} },
    subsystems: [ThrottleGroups, Block, Jobs, BlockJobs, Bitmaps, BlockStats],
  });
  const run = async (command: string, args: JsonObject = {}): Promise<JsonObject> => {
    const later: (() => void)[] = [];
    const ctx: VmCommandContext = {
      client: 1,
      command,
      signal: new AbortController().signal,
      afterReply: (fn) => later.push(fn),
    };
    const handler = vm.commandHandler(command);
    if (handler === undefined) throw new Error(`no ${command}`);
    try {
      const value = (await handler(args, ctx)) ?? {};
      return { return: value as JsonObject };
    } catch (error) {
      if (!(error instanceof QMPCommandError)) throw error;
      return { error: { class: error.errorClass, desc: error.desc } };
    } finally {
      for (const fn of later) fn();
    }
  };
  return { vm, events, run };
}

/** What the flow's fixture says each command step answered, with `actual-size` out of the comparison. */
async function fixtureAnswers(qemuVersion: string): Promise<Map<number, unknown>> {
  const fixture = `../../fixtures/flows/qemu-${qemuVersion}/q35/block.jsonl`;
  const text = await Bun.file(join(import.meta.dir, fixture)).text();
  const answers = new Map<number, unknown>();
  for (const line of text.trim().split("\n")) {
    const step = JSON.parse(line) as { step: number; send?: unknown; recv?: JsonObject[] };
    const reply = step.recv?.find((m) => "return" in m || "error" in m);
    if (step.send === undefined || reply === undefined) continue;
    const { id: _id, ...answer } = reply;
    answers.set(step.step, answer);
  }
  return answers;
}

function comparable(value: unknown, dir: string): unknown {
  return JSON.parse(JSON.stringify(value).replaceAll(dir, "$DIR"), (key, v) =>
    key === "actual-size" ? "<varies: actual-size>" : v,
  );
}

for (const qemuVersion of ["7.2", "10.0"] as const) {
  test(`with the hooks playing object-add and device_add, the block flow's commands answer as QEMU ${qemuVersion}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "qmpkit-block-hooks-"));
    try {
      await blockFlow.setup?.({ dir });
      const { vm, run } = makeVm(qemuVersion);
      const groups = vm.get(ThrottleGroups);
      const answers = await fixtureAnswers(qemuVersion);
      const steps = blockFlow.steps({ dir });
      for (const [index, step] of steps.entries()) {
        if (step.kind !== "command") continue;
        const args = (step.arguments ?? {}) as JsonObject;
        // An unknown driver is refused by the schema check before any subsystem sees it.
        if (args.driver === "no-such-driver") continue;
        let answer: JsonObject;
        if (step.execute === "object-add") {
          groups.define(String(args.id), args.limits as JsonObject);
          answer = { return: {} };
        } else if (step.execute === "object-del") {
          answer = groups.remove(String(args.id)) ? { return: {} } : { error: {} };
        } else if (step.execute === "device_add") {
          const qdev = `/machine/peripheral/${String(args.id)}/virtio-backend`;
          vm.get(Block).attach(String(args.drive), { qdev, device: "" }, "virtio-blk-device.drive");
          answer = { return: {} };
        } else {
          answer = await run(step.execute, args);
        }
        // Steps are numbered from 1 after qmp_capabilities.
        expect({ step: step.execute, answer: comparable(answer, dir) }).toEqual({
          step: step.execute,
          answer: answers.get(index + 2),
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("attach refuses a missing node and a node another device writes, with QEMU's texts", async () => {
  const { vm, run } = makeVm();
  const block = vm.get(Block);
  await run("blockdev-add", { "node-name": "n", driver: "null-co" });
  expect(() =>
    block.attach("nope", { qdev: "/machine/peripheral/a/virtio-backend", device: "" }, "p.drive"),
  ).toThrow("Property 'p.drive' can't find value 'nope'");
  block.attach("n", { qdev: "/machine/peripheral/a/virtio-backend", device: "" }, "p.drive");
  expect(() =>
    block.attach("n", { qdev: "/machine/peripheral/b/virtio-backend", device: "" }, "p.drive"),
  ).toThrow(
    "Permission conflict on node 'n': permissions 'write' are both required by block device " +
      "'/machine/peripheral/a/virtio-backend' (uses node 'n' as 'root' child) and unshared by block device " +
      "'/machine/peripheral/b/virtio-backend' (uses node 'n' as 'root' child).",
  );
  expect((await run("blockdev-del", { "node-name": "n" })).error).toEqual({
    class: "GenericError",
    desc: "Node n is in use",
  });
  block.detach("/machine/peripheral/a/virtio-backend");
  expect(await run("query-block")).toEqual({ return: [] });
  expect(await run("blockdev-del", { "node-name": "n" })).toEqual({ return: {} });
});

test("query-blockstats: a device's drive with its file child as parent, and every node", async () => {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-block-hooks-"));
  try {
    await Bun.write(join(dir, "r.raw"), new Uint8Array(4096));
    const { vm, run } = makeVm();
    await run("blockdev-add", { "node-name": "f", driver: "file", filename: join(dir, "r.raw") });
    await run("blockdev-add", { "node-name": "r", driver: "raw", file: "f" });
    vm.get(Block).attach("r", { qdev: "/machine/peripheral/vd0/virtio-backend", device: "" }, "x.drive");
    const [device = {}] = (await run("query-blockstats")).return as unknown as JsonObject[];
    expect(Object.keys(device)).toEqual(["device", "parent", "stats", "node-name", "qdev"]);
    expect((device.stats as JsonObject).account_invalid).toBe(true);
    expect((device.parent as JsonObject)["driver-specific"]).toEqual({
      "discard-bytes-ok": 0,
      "discard-nb-ok": 0,
      driver: "file",
      "discard-nb-failed": 0,
    });
    const nodes = (await run("query-blockstats", { "query-nodes": true })).return as unknown as JsonObject[];
    expect(nodes.map((n) => [n["node-name"], Object.keys(n)])).toEqual([
      ["f", ["stats", "node-name", "driver-specific"]],
      ["r", ["parent", "stats", "node-name"]],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a transaction drains the jobs (standby, ready before its reply) and applies bitmap actions", async () => {
  const { events, run } = makeVm();
  await run("blockdev-add", { "node-name": "n", driver: "null-co", size: 4096 });
  await run("blockdev-add", { "node-name": "n2", driver: "null-co", size: 4096 });
  await run("blockdev-mirror", { "job-id": "m", device: "n", target: "n2", sync: "full" });
  events.length = 0;
  const add = {
    type: "block-dirty-bitmap-add",
    data: { node: "n2", name: "bm", persistent: false, disabled: false },
  };
  expect(await run("transaction", { actions: [add] })).toEqual({ return: {} });
  expect(events).toEqual([
    ["JOB_STATUS_CHANGE", { status: "standby", id: "m" }],
    ["JOB_STATUS_CHANGE", { status: "ready", id: "m" }],
  ]);
  expect((await run("block-dirty-bitmap-add", { node: "n2", name: "bm" })).error).toEqual({
    class: "GenericError",
    desc: "Bitmap already exists: bm",
  });
  const nodes = (await run("query-named-block-nodes", { flat: true })).return as unknown as JsonObject[];
  expect(nodes.map((n) => n["dirty-bitmaps"])).toEqual([
    [{ name: "bm", recording: true, persistent: false, busy: false, granularity: 65536, count: 0 }],
    // The mirror's own bitmap on its source.
    [{ recording: true, persistent: false, busy: false, granularity: 65536, count: 0 }],
  ]);
  expect((await run("block-dirty-bitmap-remove", { node: "n2", name: "nope" })).error).toEqual({
    class: "GenericError",
    desc: "Dirty bitmap 'nope' not found",
  });
});

test("a -drive waiting for its device is taken over by it, and goes away with it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-block-hooks-"));
  try {
    await Bun.write(join(dir, "d.raw"), new Uint8Array(4096));
    const { vm, run } = makeVm();
    const block = vm.get(Block);
    block.addDrive({ id: "drive0", file: join(dir, "d.raw"), format: "raw" });
    block.attach("drive0", { qdev: "/machine/peripheral/vd0/virtio-backend", device: "" }, "x.drive");
    const [entry = {}] = (await run("query-block")).return as unknown as JsonObject[];
    expect(Object.keys(entry)).toEqual([
      "io-status",
      "device",
      "locked",
      "removable",
      "inserted",
      "qdev",
      "type",
    ]);
    expect(entry).toMatchObject({
      device: "drive0",
      removable: false,
      qdev: "/machine/peripheral/vd0/virtio-backend",
    });
    block.detach("/machine/peripheral/vd0/virtio-backend");
    expect(await run("query-block")).toEqual({ return: [] });
    expect(await run("query-named-block-nodes")).toEqual({ return: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
