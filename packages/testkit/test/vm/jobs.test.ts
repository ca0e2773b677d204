/**
 * Block jobs on the manual clock: progress at the speed limit, READY, the verbs each state refuses, completion
 * and cancellation with QEMU 7.2's event order, and blockdev-create writing an image blockdev-add reads back.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import type { ExecuteError } from "@qmpkit/qmp";
import { fakeSession } from "./fake-session.ts";

const MiB = 1024 * 1024;
type NodeInfo = Record<string, unknown> & { image: Record<string, unknown> };

async function setup() {
  const { fake, client, dir } = await fakeSession({ clock: "manual", status: "prelaunch" });
  const run = (command: string, args?: Record<string, unknown>) => client.executeUntyped(command, args);
  const failure = (command: string, args?: Record<string, unknown>) =>
    run(command, args).then(
      () => "no error",
      (error: ExecuteError) => `${error.errorClass}: ${error.desc}`,
    );
  return { fake, client, dir, run, failure };
}

/** A raw node over a host file of `size` bytes. */
async function rawNode(
  run: (c: string, a?: Record<string, unknown>) => Promise<unknown>,
  dir: string,
  name: string,
  size: number,
) {
  await Bun.write(join(dir, `${name}.img`), new Uint8Array(size));
  await run("blockdev-add", {
    "node-name": `${name}-file`,
    driver: "file",
    filename: join(dir, `${name}.img`),
  });
  await run("blockdev-add", { "node-name": name, driver: "raw", file: `${name}-file` });
}

test("a mirror copies at its speed on the clock, waits in READY, and completes after job-complete", async () => {
  const { fake, client, dir, run, failure } = await setup();
  await rawNode(run, dir, "src", 4 * MiB);
  await rawNode(run, dir, "dst", 4 * MiB);
  const events = client.listen({ names: ["JOB_STATUS_CHANGE", "BLOCK_JOB_READY", "BLOCK_JOB_COMPLETED"] });
  await run("blockdev-mirror", { "job-id": "m", device: "src", target: "dst", sync: "full", speed: MiB });
  expect(events.clear().map((e) => (e.data as { status?: string }).status)).toEqual(["created", "running"]);

  await fake.clock.advance(1000);
  const [running] = (await run("query-block-jobs")) as Record<string, unknown>[];
  expect(running).toMatchObject({ device: "m", status: "running", offset: MiB, len: 4 * MiB, speed: MiB });
  expect(await failure("job-complete", { id: "m" })).toBe(
    "GenericError: Job 'm' in state 'running' cannot accept command verb 'complete'",
  );
  expect(await failure("blockdev-del", { "node-name": "src" })).toBe(
    "GenericError: Node 'src' is busy: block device is in use by block job: mirror",
  );
  expect(await failure("blockdev-del", { "node-name": "dst" })).toBe("GenericError: Node dst is in use");

  // Doubling the speed halves the rest: 3 MiB at 2 MiB/s.
  await run("block-job-set-speed", { device: "m", speed: 2 * MiB });
  await fake.clock.advance(1400);
  expect(events.empty()).toBe(true);
  await fake.clock.advance(100);
  expect(events.clear().map((e) => e.event)).toEqual(["JOB_STATUS_CHANGE", "BLOCK_JOB_READY"]);

  await run("job-complete", { id: "m" });
  const order: string[] = [];
  for (let i = 0; i < 5; i++) {
    const event = await events.get({ timeoutMs: 2000 });
    order.push(
      event.event === "JOB_STATUS_CHANGE" ? String((event.data as { status?: string }).status) : event.event,
    );
  }
  expect(order).toEqual(["waiting", "pending", "BLOCK_JOB_COMPLETED", "concluded", "null"]);
  expect(await run("query-jobs")).toEqual([]);
  await run("blockdev-del", { "node-name": "src" });
});

test("pausing a running job stops its progress; cancelling it sends BLOCK_JOB_CANCELLED", async () => {
  const { fake, client, dir, run, failure } = await setup();
  await rawNode(run, dir, "src", 4 * MiB);
  await rawNode(run, dir, "dst", 4 * MiB);
  await run("blockdev-backup", { "job-id": "b", device: "src", target: "dst", sync: "full", speed: MiB });
  await run("job-pause", { id: "b" });
  expect(await failure("job-pause", { id: "b" })).toBe("GenericError: Job is already paused");
  await fake.clock.advance(5000);
  expect(await run("query-jobs")).toEqual([
    { "current-progress": 0, status: "paused", "total-progress": 4 * MiB, type: "backup", id: "b" },
  ]);
  await run("job-resume", { id: "b" });
  await fake.clock.advance(500);
  expect(await failure("blockdev-del", { "node-name": "dst" })).toBe(
    "GenericError: Node 'dst' is busy: block device is in use by block job: backup",
  );
  expect(await failure("blockdev-del", { "node-name": "src" })).toBe(
    "GenericError: Block device src is in use",
  );
  const events = client.listen({ names: ["JOB_STATUS_CHANGE", "BLOCK_JOB_CANCELLED"] });
  await run("block-job-cancel", { device: "b" });
  // A backup goes down inside the command: every event is there when the reply is.
  expect(events.size).toBe(4);
  const order: string[] = [];
  for (let i = 0; i < 4; i++) {
    const event = await events.get({ timeoutMs: 2000 });
    order.push(
      event.event === "JOB_STATUS_CHANGE" ? String((event.data as { status?: string }).status) : event.event,
    );
  }
  expect(order).toEqual(["aborting", "BLOCK_JOB_CANCELLED", "concluded", "null"]);
  expect(await failure("block-job-cancel", { device: "b" })).toBe("DeviceNotActive: Block job 'b' not found");
  expect(await failure("job-cancel", { id: "b" })).toBe("GenericError: Job not found");
});

test("blockdev-create writes a qcow2 image that blockdev-add then reads: size, cluster size, backing file", async () => {
  const { client, dir, run } = await setup();
  const events = client.listen({ names: ["JOB_STATUS_CHANGE"] });
  const path = join(dir, "new.qcow2");
  await run("blockdev-create", { "job-id": "f", options: { driver: "file", filename: path, size: 0 } });
  while ((await events.get({ timeoutMs: 2000 })).data?.status !== "concluded");
  expect(await run("query-jobs")).toEqual([
    { "current-progress": 1, status: "concluded", "total-progress": 1, type: "create", id: "f" },
  ]);
  await run("job-dismiss", { id: "f" });
  await run("blockdev-add", { "node-name": "qf", driver: "file", filename: path });
  const options = {
    driver: "qcow2",
    file: "qf",
    size: 16 * MiB,
    "cluster-size": 4096,
    "backing-file": "base.img",
    "backing-fmt": "raw",
  };
  await run("blockdev-create", { "job-id": "q", options });
  while ((await events.get({ timeoutMs: 2000 })).data?.status !== "concluded");
  await run("job-dismiss", { id: "q" });
  await run("blockdev-add", { "node-name": "q", driver: "qcow2", file: "qf", backing: null });
  const [node] = (await run("query-named-block-nodes", { flat: true })) as NodeInfo[];
  expect(node?.["node-name"]).toBe("q");
  expect(node?.backing_file).toBe("base.img");
  expect(node?.image).toMatchObject({
    "backing-filename-format": "raw",
    "virtual-size": 16 * MiB,
    "cluster-size": 4096,
    format: "qcow2",
    "full-backing-filename": join(dir, "base.img"),
    "backing-filename": "base.img",
  });
});

test("job ids and speeds are refused as QEMU 7.2 does; a negative speed shows the job created and gone", async () => {
  const { client, run, failure } = await setup();
  for (const name of ["n", "n2"])
    await run("blockdev-add", { "node-name": name, driver: "null-co", size: MiB });
  const mirror = { device: "n", target: "n2", sync: "full" };
  // With no job-id QEMU takes the device's BlockBackend name, which a node has not: "".
  expect(await failure("blockdev-mirror", mirror)).toBe("GenericError: Invalid job ID ''");
  expect(await failure("blockdev-mirror", { ...mirror, "job-id": "0bad" })).toBe(
    "GenericError: Invalid job ID '0bad'",
  );
  const events = client.listen({ names: ["JOB_STATUS_CHANGE"] });
  expect(await failure("blockdev-mirror", { ...mirror, "job-id": "j", speed: -1 })).toBe(
    "GenericError: Parameter 'speed' expects a non-negative value",
  );
  expect(events.clear().map((e) => (e.data as { status?: string }).status)).toEqual(["created", "null"]);
  expect(await failure("block-commit", { "job-id": "c", device: "n" })).toBe(
    "GenericError: cannot commit an image into itself",
  );
  await run("blockdev-mirror", { ...mirror, "job-id": "j" });
  expect(await failure("blockdev-mirror", { ...mirror, "job-id": "j" })).toBe(
    "GenericError: Need a root block node",
  );
});
