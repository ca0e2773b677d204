/** HMP through QMP: QEMU's texts for help and unknown commands, aliases, and loud refusal of the unmodelled. */
import { afterEach, expect, test } from "bun:test";
import { connect, type ExecuteError, type QMPClient } from "@qmpkit/qmp";
import { createFakeQemu, type FakeQemu } from "../../src/index.ts";

let fake: FakeQemu;
let client: QMPClient;
afterEach(async () => {
  await client.disconnect().catch(() => {});
  await fake.close();
});

async function hmp(line: string): Promise<unknown> {
  return client.executeUntyped("human-monitor-command", { "command-line": line });
}

async function start(): Promise<void> {
  fake = await createFakeQemu();
  client = await connect(fake.address);
}

test("unknown commands get QEMU's text; empty lines print nothing", async () => {
  await start();
  expect(await hmp("frobnicate")).toBe("unknown command: 'frobnicate'\r\n");
  expect(await hmp("info frobnicate")).toBe("unknown command: 'info frobnicate'\r\n");
  expect(await hmp("   ")).toBe("");
  expect(await hmp("help stop")).toBe("stop|s  -- stop emulation\r\n");
});

test("a command QEMU has but the model lacks is refused and listed in fake.errors", async () => {
  await start();
  const error = (await hmp("info mtree").catch((e) => e)) as ExecuteError;
  expect(error.desc).toBe("qmpkit fake: HMP command 'info mtree' is not implemented");
  expect(fake.errors.map((e) => e.message)).toEqual([
    "HMP command 'info mtree' is not implemented by the fake",
  ]);
});

test("cpu-index on -machine none is QEMU's error", async () => {
  await start();
  const error = (await client
    .executeUntyped("human-monitor-command", { "command-line": "info status", "cpu-index": 0 })
    .catch((e) => e)) as ExecuteError;
  expect(error.desc).toBe("Parameter 'cpu-index' expects a CPU number");
});
