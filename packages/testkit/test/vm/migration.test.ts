/**
 * Migration on the fake's manual clock: the events and states real QEMU 7.2/10.0 go through (the migration flows
 * check the same against QEMU live), driven step by step with `fake.clock.advance`.
 */
import { expect, test } from "bun:test";
import { closeSync, openSync } from "node:fs";
import type { ExecuteError } from "@qmpkit/qmp";
import type { FakeQemuOptions } from "../../src/index.ts";
import { fakeSession } from "./fake-session.ts";

async function setup(options: FakeQemuOptions = {}, events = true) {
  const { fake, client } = await fakeSession({ machine: "q35", clock: "manual", ...options });
  const tap = client.listen({ names: ["MIGRATION", "MIGRATION_PASS", "STOP", "RESUME"] });
  await client.execute("migrate-set-capabilities", {
    capabilities: [{ capability: "events", state: events }],
  });
  // Every event so far, in order; a command's reply comes after the events sent before it.
  const seen = async () => {
    await client.execute("query-status");
    return tap.clear().map((e) => {
      const data = e.data as { status?: string; pass?: number } | undefined;
      return data?.status ?? (data?.pass === undefined ? e.event : `pass ${data.pass}`);
    });
  };
  const error = async (command: Promise<unknown>) =>
    ((await command.catch((e: unknown) => e)) as ExecuteError).desc;
  return { fake, client, seen, error };
}

test("a running VM migrates: setup, pass 1, active, pass 2, STOP, pass 3, completed, then postmigrate", async () => {
  const { fake, client, seen } = await setup();
  await client.execute("migrate-set-parameters", { "max-bandwidth": 4 * 1024 * 1024 });
  await client.execute("migrate", { uri: "exec:cat > /dev/null" });
  expect(await seen()).toEqual(["setup"]);
  await fake.clock.advance(30);
  expect(await seen()).toEqual(["pass 1", "active"]);
  expect((await client.execute("query-migrate")).status).toBe("active");
  await fake.clock.advance(100);
  expect(await seen()).toEqual(["pass 2", "STOP", "pass 3"]);
  await fake.clock.advance(1_000);
  expect(await seen()).toEqual(["completed"]);
  expect((await client.execute("query-status")).status).toBe("postmigrate");
  const info = await client.execute("query-migrate");
  expect(info.status).toBe("completed");
  expect(info.ram?.remaining).toBe(0);
});

test("max-bandwidth governs how long the switchover takes", async () => {
  const { fake, client, seen } = await setup();
  await client.execute("migrate-set-parameters", { "max-bandwidth": 100_000 });
  await client.execute("migrate", { uri: "exec:cat > /dev/null" });
  await fake.clock.advance(1_200); // pass 1 needs ~1.1 s of bandwidth
  expect(await seen()).toEqual(["setup", "pass 1", "active", "pass 2", "STOP", "pass 3"]);
  await fake.clock.advance(5_000);
  expect(await seen()).toEqual([]);
  await fake.clock.advance(5_000); // ~9.2 s for the rest at 100 kB/s
  expect(await seen()).toEqual(["completed"]);
});

test("10.0 passes through `device` before pass 3", async () => {
  const { fake, client, seen } = await setup({ qemuVersion: "10.0" });
  await client.execute("migrate", { uri: "exec:cat > /dev/null" });
  await fake.clock.advance(10_000);
  expect(await seen()).toEqual([
    "setup",
    "pass 1",
    "active",
    "pass 2",
    "STOP",
    "device",
    "pass 3",
    "completed",
  ]);
});

test("migrate_cancel goes through cancelling to cancelled and restarts a guest the migration stopped", async () => {
  const { fake, client, seen } = await setup();
  await client.execute("migrate-set-parameters", { "max-bandwidth": 100_000 });
  await client.execute("migrate", { uri: "exec:cat > /dev/null" });
  await fake.clock.advance(1_200);
  await client.execute("migrate_cancel");
  await fake.clock.advance(10);
  expect(await seen()).toEqual([
    "setup",
    "pass 1",
    "active",
    "pass 2",
    "STOP",
    "pass 3",
    "cancelling",
    "cancelled",
    "RESUME",
  ]);
  expect((await client.execute("query-status")).status).toBe("running");
  expect(await client.execute("query-migrate")).toEqual({ status: "cancelled" });
});

test("QEMU's refusals: a second migrate, postmigrate, incoming, and a bad URI", async () => {
  const { fake, client, error } = await setup();
  await client.execute("migrate", { uri: "exec:cat > /dev/null" });
  expect(await error(client.execute("migrate", { uri: "exec:true" }))).toBe(
    "There's a migration process in progress",
  );
  await fake.clock.advance(10_000);
  expect(await error(client.execute("migrate", { uri: "exec:true" }))).toBe(
    "Can't migrate the vm that was paused due to previous migration",
  );
  await client.execute("cont");
  expect(await error(client.execute("migrate", { uri: "nope:x" }))).toBe(
    "Parameter 'uri' expects a valid migration protocol",
  );

  const incoming = await setup({ incoming: "defer" });
  expect(await incoming.error(incoming.client.execute("migrate", { uri: "exec:true" }))).toBe(
    "Guest is waiting for an incoming migration",
  );
});

test("without the events capability nothing is announced, and the migration still completes", async () => {
  const { fake, client, seen } = await setup({}, false);
  await client.execute("migrate", { uri: "exec:cat > /dev/null" });
  await fake.clock.advance(10_000);
  expect(await seen()).toEqual(["STOP"]);
  expect((await client.execute("query-migrate")).status).toBe("completed");
});

test("an incoming migration from a stream (fd:, exec:, file:) completes at once; -S keeps the guest paused", async () => {
  for (const qemuVersion of ["7.2", "10.0"] as const) {
    // -S -incoming defer, as libvirt restores a saved domain: the guest waits for `cont`.
    const paused = await setup({ qemuVersion, incoming: "defer", status: "prelaunch" });
    expect((await paused.client.execute("query-status")).status).toBe("inmigrate");
    await paused.client.execute("migrate-incoming", { uri: "fd:7" });
    expect(await paused.seen()).toEqual(["setup"]);
    await paused.fake.clock.advance(100);
    expect(await paused.seen()).toEqual(["active", "completed"]);
    expect(await paused.client.execute("query-migrate")).toEqual({ status: "completed" });
    expect((await paused.client.execute("query-status")).status).toBe("paused");
    await paused.client.execute("cont");
    expect(await paused.seen()).toEqual(["RESUME"]);

    // Without -S the guest runs once the migration is in.
    const running = await setup({ qemuVersion, incoming: "defer" });
    await running.client.execute("migrate-incoming", { uri: "exec:cat /dev/null" });
    await running.fake.clock.advance(100);
    expect(await running.seen()).toEqual(["setup", "active", "completed", "RESUME"]);
    expect((await running.client.execute("query-status")).status).toBe("running");

    // `stop` while migrating in clears autostart, as in QEMU.
    const stopped = await setup({ qemuVersion, incoming: "defer" });
    await stopped.client.execute("stop");
    await stopped.client.execute("migrate-incoming", { uri: "fd:9" });
    await stopped.fake.clock.advance(100);
    expect(await stopped.seen()).toEqual(["setup", "active", "completed"]);
    expect((await stopped.client.execute("query-status")).status).toBe("paused");

    // A socket waits for a source that never comes.
    const waiting = await setup({ qemuVersion, incoming: "defer" });
    await waiting.client.execute("migrate-incoming", { uri: "unix:/tmp/qmpkit-never-connected.sock" });
    await waiting.fake.clock.advance(1_000);
    expect(await waiting.seen()).toEqual(["setup"]);
    expect((await waiting.client.execute("query-status")).status).toBe("inmigrate");
  }
});

test("file: migration URIs: unknown to 7.2, and 10.0 opens the file before it reads", async () => {
  const old = await setup({ qemuVersion: "7.2", incoming: "defer" });
  expect(await old.error(old.client.execute("migrate-incoming", { uri: "file:/tmp/x" }))).toBe(
    "unknown migration protocol: file:/tmp/x",
  );
  const current = await setup({ qemuVersion: "10.0", incoming: "defer" });
  expect(
    await current.error(current.client.execute("migrate-incoming", { uri: "file:/nonexistent/qmpkit.bin" })),
  ).toBe("Could not open '/nonexistent/qmpkit.bin': No such file or directory");
  expect(await current.seen()).toEqual([]);
  const fromFile = await setup({ qemuVersion: "10.0", incoming: "defer" });
  await fromFile.client.execute("migrate-incoming", { uri: `file:${import.meta.path}` });
  await fromFile.fake.clock.advance(100);
  expect(await fromFile.seen()).toEqual(["setup", "active", "completed", "RESUME"]);
});

test("10.0 warns once that fd: migration from a regular file is deprecated (libvirt's restore); 7.2 does not", async () => {
  const file = openSync(import.meta.path, "r");
  try {
    for (const qemuVersion of ["7.2", "10.0"] as const) {
      const warnings: string[] = [];
      const { client, fake } = await setup({
        qemuVersion,
        incoming: "defer",
        onWarning: (message) => warnings.push(message),
      });
      await client.execute("migrate-incoming", { uri: `fd:${file}` });
      await fake.clock.advance(100);
      expect(warnings).toEqual(
        qemuVersion === "7.2" ? [] : ["fd: migration to a file is deprecated. Use file: instead."],
      );
    }
  } finally {
    closeSync(file);
  }
});
