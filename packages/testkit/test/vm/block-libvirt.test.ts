/**
 * libvirt 9.0's `virsh blockcopy --pivot` as it ran against real QEMU 7.2 (fixtures/libvirt): the same commands
 * sent to the block model, with the disks the domain had, give the same replies and the same events in the same
 * order — blockdev-create of the copy, blockdev-mirror to READY (on the manual clock), the transaction that
 * drains the job, job-complete pivoting the disk, job-dismiss and deleting the old nodes.
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
import { Jobs } from "../../src/vm/block/jobs.ts";
import { createQcow2Image } from "../../src/vm/block/qcow2.ts";
import { ThrottleGroups } from "../../src/vm/block/throttle-groups.ts";
import { ManualClock } from "../../src/vm/clock.ts";
import { Vm } from "../../src/vm/vm.ts";

const MiB = 1024 * 1024;
const TRACE = join(import.meta.dir, "../../fixtures/libvirt/libvirt-9.0-qemu-7.2-qmp.jsonl");
const FIRST = "libvirt-447";
const LAST = "libvirt-463";

type Entry = { monitor?: number; send?: JsonObject; recv?: JsonObject; event?: string; data?: JsonObject };

/** The blockcopy's part of monitor 2's traffic: from the first listing to the deletion of the old nodes. */
async function blockcopyTrace(): Promise<Entry[]> {
  const lines = (await Bun.file(TRACE).text()).trim().split("\n");
  const entries = lines.map((line) => JSON.parse(line) as Entry).filter((e) => e.monitor === 2);
  const start = entries.findIndex((e) => e.send?.id === FIRST);
  const end = entries.findIndex((e) => e.recv?.id === LAST);
  return entries.slice(start, end + 1);
}

function normalise(value: unknown, dir: string): unknown {
  return JSON.parse(JSON.stringify(value).replaceAll(dir, "$DIR"), (key, v) =>
    key === "actual-size" ? "<allocated>" : v,
  );
}

test("libvirt's blockcopy --pivot gets QEMU 7.2's replies and events from the block model", async () => {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-blockcopy-"));
  try {
    await Bun.write(join(dir, "disk.qcow2"), createQcow2Image({ size: 64 * MiB }));
    await Bun.write(join(dir, "extra.raw"), new Uint8Array(32 * MiB));
    await Bun.write(join(dir, "copy.qcow2"), new Uint8Array(0));
    const clock = new ManualClock();
    const events: JsonObject[] = [];
    const vm = new Vm({
      machine: {
        name: "q35",
        qemuVersion: "7.2",
        schema: [],
        commands: [],
        profile: undefined,
        replies: new Map(),
      },
      clock,
      config: {
        status: "running",
        version: { qemu: { major: 7, minor: 2, micro: 22 }, package: "" },
        name: undefined,
      },
      host: {
        emit: (event, data) => events.push({ event, data: data ?? {} }),
        quit: () => {},
        exit: () => {},
        reportError: () => {},
      },
      subsystems: [ThrottleGroups, Block, Jobs, BlockJobs, Bitmaps],
    });
    const run = async (command: string, args: JsonObject): Promise<JsonObject> => {
      const later: (() => void)[] = [];
      const ctx = {
        client: 1,
        command,
        signal: new AbortController().signal,
        afterReply: (fn: () => void) => later.push(fn),
      };
      try {
        return { return: ((await vm.commandHandler(command)?.(args, ctx)) ?? {}) as JsonObject };
      } catch (error) {
        if (!(error instanceof QMPCommandError)) throw error;
        return { error: { class: error.errorClass, desc: error.desc } };
      } finally {
        for (const fn of later) fn();
      }
    };
    // The domain as libvirt started it: two disks given as -blockdev nodes under virtio-blk devices.
    const disks = [
      ["libvirt-1", "disk.qcow2", "qcow2", "virtio-disk0"],
      ["libvirt-2", "extra.raw", "raw", "virtio-disk1"],
    ] as const;
    for (const [prefix, file, format, device] of disks) {
      await run("blockdev-add", {
        driver: "file",
        filename: join(dir, file),
        "node-name": `${prefix}-storage`,
      });
      await run("blockdev-add", {
        "node-name": `${prefix}-format`,
        driver: format,
        file: `${prefix}-storage`,
      });
      const qdev = `/machine/peripheral/${device}/virtio-backend`;
      vm.get(Block).attach(`${prefix}-format`, { qdev, device: "" }, "virtio-blk-device.drive");
    }

    const trace = await blockcopyTrace();
    const expectedEvents = trace
      .filter((e) => e.event !== undefined)
      .map((e) => ({ event: e.event, data: e.data }));
    let readyPending = false;
    let compared = 0;
    for (const entry of trace) {
      if (entry.event === "BLOCK_JOB_READY") readyPending = true;
      if (entry.send !== undefined) {
        // libvirt polled until READY came: let the fake's clock run the copy to its end first.
        if (readyPending) await clock.advance(10_000);
        readyPending = false;
        const {
          execute,
          arguments: args = {},
          id,
        } = entry.send as { execute: string; arguments?: JsonObject; id: string };
        const expected = trace.find((e) => e.recv?.id === id)?.recv;
        const actual = await run(execute, JSON.parse(JSON.stringify(args).replaceAll("$DIR", dir)));
        if (typeof expected?.return === "string") continue; // condensed in the fixture
        const { id: _id, ...answer } = expected ?? {};
        expect({ id, reply: normalise(actual, dir) }).toEqual({ id, reply: normalise(answer, dir) });
        compared++;
      }
    }
    expect(compared).toBe(16); // every command from libvirt-447 to libvirt-463 but the condensed listing
    expect(events).toEqual(expectedEvents as JsonObject[]);
    // The pivot: the first disk now reads from the copy.
    const [first = {}] = (await run("query-block", {})).return as unknown as JsonObject[];
    expect((first.inserted as JsonObject)["node-name"]).toBe("libvirt-3-format");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
