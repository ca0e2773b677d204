/**
 * Migration on the fake's manual clock: the events and states real QEMU 7.2/10.0 go through (the migration flows
 * check the same against QEMU live), driven step by step with `fake.clock.advance`.
 */
import { expect, test } from "bun:test";
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
