/**
 * QEMU 7.2 lists the `spice` option group only once its spice module is loaded, by `qom-list-types` or by
 * `device-list-properties` of a QXL display (measured on `-machine none`: 35 groups, then 36 with `spice` second).
 */
import { afterEach, expect, test } from "bun:test";
import { connect, ExecuteError, type QMPClient } from "@qmpkit/qmp";
import { createFakeQemu, type FakeQemu } from "../../src/index.ts";

const fakes: FakeQemu[] = [];
const clients: QMPClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.disconnect().catch(() => {});
  for (const f of fakes.splice(0)) await f.close();
});

async function client(): Promise<QMPClient> {
  const fake = await createFakeQemu({ machine: "none" });
  const qmp = await connect(fake.address);
  fakes.push(fake);
  clients.push(qmp);
  return qmp;
}

const groups = async (qmp: QMPClient) =>
  ((await qmp.executeUntyped("query-command-line-options")) as { option: string }[]).map((g) => g.option);

for (const [loader, args] of [
  ["qom-list-types", {}],
  ["device-list-properties", { typename: "qxl-vga" }],
] as const) {
  test(`spice is listed once ${loader} loaded its module, second, and answers by name`, async () => {
    const qmp = await client();
    expect(await groups(qmp)).not.toContain("spice");
    const refused = await qmp
      .executeUntyped("query-command-line-options", { option: "spice" })
      .catch((e) => e);
    expect(refused).toBeInstanceOf(ExecuteError);
    expect((refused as ExecuteError).desc).toBe("invalid option name: spice");
    await qmp.executeUntyped(loader, args);
    const after = await groups(qmp);
    expect(after.slice(0, 3)).toEqual(["machine", "spice", "iscsi"]);
    expect(after).toHaveLength(36);
    const spice = (await qmp.executeUntyped("query-command-line-options", { option: "spice" })) as {
      option: string;
    }[];
    expect(spice.map((g) => g.option)).toEqual(["spice"]);
  });
}

test("qom-list-properties of qxl loads nothing, as in QEMU", async () => {
  const qmp = await client();
  await qmp.executeUntyped("qom-list-properties", { typename: "qxl" });
  expect(await groups(qmp)).not.toContain("spice");
});
