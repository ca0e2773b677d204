/** Identity: version, name, UUID and accelerator, over QMP and HMP, as QEMU 7.2 (-machine none) answers. */
import { afterEach, expect, test } from "bun:test";
import { connect, type QMPClient } from "@qmpkit/qmp";
import { createFakeQemu, type FakeQemu, QEMU_7_2_VERSION } from "../../src/index.ts";

const fakes: FakeQemu[] = [];
const clients: QMPClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.disconnect().catch(() => {});
  for (const f of fakes.splice(0)) await f.close();
});

async function client(options: Parameters<typeof createFakeQemu>[0] = {}): Promise<QMPClient> {
  const fake = await createFakeQemu(options);
  fakes.push(fake);
  const c = await connect(fake.address);
  clients.push(c);
  return c;
}

const hmp = (c: QMPClient, line: string) =>
  c.executeUntyped("human-monitor-command", { "command-line": line });

test("query-version, query-uuid and query-kvm as recorded from QEMU 7.2", async () => {
  const c = await client();
  expect(await c.execute("query-version")).toEqual(QEMU_7_2_VERSION as never);
  expect(await c.executeUntyped("query-uuid")).toEqual({ UUID: "00000000-0000-0000-0000-000000000000" });
  expect(await c.execute("query-kvm")).toEqual({ enabled: false, present: true });
  expect(await hmp(c, "info uuid")).toBe("00000000-0000-0000-0000-000000000000\r\n");
  expect(await hmp(c, "info version")).toBe(`7.2.22${QEMU_7_2_VERSION.package}\r\n`);
  expect(await hmp(c, "info kvm")).toBe("kvm support: disabled\r\n");
});

test("query-name: {} without -name, the name with it; HMP info name likewise", async () => {
  const anonymous = await client();
  expect(await anonymous.execute("query-name")).toEqual({});
  expect(await hmp(anonymous, "info name")).toBe("");
  const named = await client({ name: "vm1" });
  expect(await named.execute("query-name")).toEqual({ name: "vm1" });
  expect(await hmp(named, "info name")).toBe("vm1\r\n");
});
