/**
 * A migration that fails part-way (`fake.migration.failAt`), on the manual clock: the same cases as real QEMU
 * 7.2 and 10.0 recorded (fixtures/qemu-*-migration-failure.json, by scripts/record-migration-failure.ts) must give
 * the same events, `query-migrate` and `query-status`; then what the API promises beyond the recording.
 */
import { describe, expect, test } from "bun:test";
import type { ExecuteError } from "@qmpkit/qmp";
import type { QemuRelease } from "../../src/index.ts";
import { fakeSession } from "./fake-session.ts";
import { FAILING_URI, FAILURE_CASES, type FailureOutcome, runFailure } from "./migration-failure.ts";

for (const qemuVersion of ["7.2", "10.0"] satisfies QemuRelease[]) {
  describe(`as QEMU ${qemuVersion} recorded it`, async () => {
    const recorded = (await Bun.file(
      `${import.meta.dir}/../../fixtures/qemu-${qemuVersion}-migration-failure.json`,
    ).json()) as Record<string, FailureOutcome>;
    for (const failure of FAILURE_CASES) {
      test(`${failure.name}: ${failure.description}`, async () => {
        const expected = recorded[failure.name];
        if (expected === undefined) throw new Error(`no recording of ${failure.name}`);
        const { fake, client } = await fakeSession({
          machine: "q35",
          clock: "manual",
          status: "prelaunch",
          qemuVersion,
        });
        fake.migration.failAt(failure.failAt);
        const outcome = await runFailure(client, failure, () => fake.clock.advance(25));
        expect(outcome).toEqual({
          events: expected.events,
          queryMigrate: expected.queryMigrate,
          queryStatus: expected.queryStatus,
        });
      });
    }
  });
}

async function setup() {
  const session = await fakeSession({ machine: "q35", clock: "manual" });
  await session.client.execute("migrate-set-capabilities", {
    capabilities: [{ capability: "events", state: true }],
  });
  await session.client.execute("migrate-set-parameters", { "max-bandwidth": 1_048_576 });
  return session;
}

test("times: 1 fails the first migration only; the retry completes", async () => {
  const { fake, client } = await setup();
  fake.migration.failAt(40, { times: 1 });
  await client.execute("migrate", { uri: FAILING_URI });
  await fake.clock.advance(5_000);
  expect(fake.migration.status).toBe("failed");
  await client.execute("migrate", { uri: FAILING_URI });
  await fake.clock.advance(5_000);
  expect(fake.migration.status).toBe("completed");
  expect((await client.execute("query-status")).status).toBe("postmigrate");
});

test("without times every migration fails, until failAt(undefined)", async () => {
  const { fake, client } = await setup();
  fake.migration.failAt(0);
  for (let i = 0; i < 2; i++) {
    await client.execute("migrate", { uri: FAILING_URI });
    await fake.clock.advance(5_000);
    expect(fake.migration.status).toBe("failed");
  }
  fake.migration.failAt(undefined);
  await client.execute("migrate", { uri: FAILING_URI });
  await fake.clock.advance(5_000);
  expect(fake.migration.status).toBe("completed");
});

test("the percent sets the moment: at 40% of ~1 MB at 1 MiB/s the failure comes ~0.4 s in, not before", async () => {
  const { fake, client } = await setup();
  fake.migration.failAt(40);
  await client.execute("migrate", { uri: FAILING_URI });
  await fake.clock.advance(350);
  expect(fake.migration.status).toBe("active");
  await fake.clock.advance(100);
  expect(fake.migration.status).toBe("failed");
});

test("a guest that was paused before the migration stays paused when it fails, and the socket channel is named", async () => {
  const { fake, client } = await setup();
  await client.execute("stop");
  // During the first pass: after the switchover 7.2 reports no error-desc at all.
  fake.migration.failAt(5);
  using tap = client.listen({ names: ["RESUME"] });
  await client.execute("migrate", { uri: "unix:/nowhere/dst.sock" });
  await fake.clock.advance(5_000);
  expect(await client.execute("query-migrate")).toEqual({
    status: "failed",
    "error-desc": "Unable to write to socket: Broken pipe",
  });
  expect((await client.execute("query-status")).status).toBe("paused");
  expect(tap.clear()).toEqual([]);
});

test("migrate_cancel before the failure point wins: cancelled, not failed", async () => {
  const { fake, client } = await setup();
  fake.migration.failAt(90);
  await client.execute("migrate", { uri: FAILING_URI });
  await fake.clock.advance(200);
  await client.execute("migrate_cancel");
  await fake.clock.advance(5_000);
  expect(fake.migration.status).toBe("cancelled");
  expect((await client.execute("query-status")).status).toBe("running");
});

test("failAt refuses a percent outside 0 to below 100 and a times below 1", async () => {
  const { fake } = await setup();
  expect(() => fake.migration.failAt(100)).toThrow(RangeError);
  expect(() => fake.migration.failAt(-1)).toThrow(RangeError);
  expect(() => fake.migration.failAt(Number.NaN)).toThrow(RangeError);
  expect(() => fake.migration.failAt(10, { times: 0 })).toThrow(RangeError);
});

test("a failed migration does not block the next: migrate is accepted at once", async () => {
  const { fake, client } = await setup();
  fake.migration.failAt(40, { times: 1 });
  await client.execute("migrate", { uri: FAILING_URI });
  await fake.clock.advance(5_000);
  const again = await client.execute("migrate", { uri: FAILING_URI }).catch((e: ExecuteError) => e.desc);
  expect(again).toEqual({});
});
