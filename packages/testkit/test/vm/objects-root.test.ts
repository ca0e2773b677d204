/**
 * QOM's /objects container: QEMU 7.2 makes it on first use (object_get_objects_root()), so a `-machine none` QEMU
 * has no /objects until a command reaches it; QEMU 10.0, and a 7.2 q35 (whose RAM backend lives there), have it
 * from the start. The fake's answers are checked against these facts, and against real QEMU where it is installed.
 */
import { describe, expect, test } from "bun:test";
import { connect, type QMPClient } from "@qmpkit/qmp";
import { createFakeQemu, hasQemu, hasQemu10, type QemuRelease, spawnQemu } from "../../src/index.ts";

type Step = readonly [command: string, args: Record<string, unknown>];

/** What a VM manager might run first; each is tried on a fresh `-machine none`, then `/` is listed. */
const FIRST_COMMANDS: readonly { step: Step; creates: boolean }[] = [
  { step: ["query-status", {}], creates: false },
  { step: ["qom-list", { path: "/objects" }], creates: false },
  { step: ["qom-get", { path: "/objects/s0", property: "type" }], creates: false },
  { step: ["object-add", { "qom-type": "secret", id: "bad id", data: "x" }], creates: false },
  // Past the id check QEMU adds the object to /objects before completing it, so a failing secret creates it.
  { step: ["object-add", { "qom-type": "secret", id: "s0" }], creates: true },
  { step: ["object-add", { "qom-type": "secret", id: "s0", data: "x" }], creates: true },
  { step: ["object-del", { id: "nope" }], creates: true },
  { step: ["query-iothreads", {}], creates: true },
];

/** The root's listing after `step`, and whether /objects resolves. */
async function afterStep(client: QMPClient, [command, args]: Step): Promise<[string[], boolean]> {
  await client.executeUntyped(command, args).catch(() => undefined);
  const root = (await client.executeUntyped("qom-list", { path: "/" })) as { name: string }[];
  const objects = await client.executeUntyped("qom-list", { path: "/objects" }).then(
    () => true,
    () => false,
  );
  return [root.map((property) => property.name), objects];
}

/** Runs `step` on a fresh server (the fake, or a real QEMU) and lists the root. */
async function on(
  server: "fake" | "qemu",
  step: Step,
  qemuVersion: QemuRelease,
): Promise<[string[], boolean]> {
  await using started =
    server === "fake" ? await createFakeQemu({ qemuVersion }) : await spawnQemu({ qemuVersion });
  const client = await connect(started.address);
  try {
    return await afterStep(client, step);
  } finally {
    await client.disconnect();
  }
}

describe("QEMU 7.2 -machine none: /objects appears on first use", () => {
  for (const { step, creates } of FIRST_COMMANDS) {
    test(`after ${step[0]} ${JSON.stringify(step[1])}: ${creates ? "listed" : "absent"}`, async () => {
      const expected: [string[], boolean] = creates
        ? [["type", "objects", "machine", "chardevs"], true]
        : [["type", "machine", "chardevs"], false];
      expect(await on("fake", step, "7.2")).toEqual(expected);
    });
  }

  test("object-add of a type QEMU refuses before adding it leaves /objects absent", async () => {
    await using fake = await createFakeQemu();
    const client = await connect(fake.address);
    await expect(
      client.executeUntyped("object-add", { "qom-type": "no-such-type", id: "x" }),
    ).rejects.toThrow();
    expect(await afterStep(client, ["query-status", {}])).toEqual([["type", "machine", "chardevs"], false]);
    await client.disconnect();
  });
});

test("QEMU 7.2 q35 and QEMU 10.0 have /objects from the start", async () => {
  await using q35 = await createFakeQemu({ machine: "q35" });
  const client = await connect(q35.address);
  expect((await afterStep(client, ["query-status", {}]))[1]).toBe(true);
  await client.disconnect();
  expect((await on("fake", ["query-status", {}], "10.0"))[1]).toBe(true);
});

describe.skipIf(!hasQemu())("the same on a real QEMU 7.2 -machine none", () => {
  for (const { step } of FIRST_COMMANDS) {
    test(`after ${step[0]} ${JSON.stringify(step[1])}: the fake lists / as QEMU does`, async () => {
      expect(await on("fake", step, "7.2")).toEqual(await on("qemu", step, "7.2"));
    });
  }
});

describe.skipIf(!hasQemu10())("the same on a real QEMU 10.0 -machine none", () => {
  test("query-status first: the fake lists / as QEMU does", async () => {
    expect(await on("fake", ["query-status", {}], "10.0")).toEqual(
      await on("qemu", ["query-status", {}], "10.0"),
    );
  });
});
