// The client against a real qemu-system-x86_64 (skipped without QEMU, failing under CI=true).

import { afterEach, describe, expect, test } from "bun:test";
import { connect, ExecuteError, type QMPClient, Runstate } from "../src/index.ts";
import { type QemuHandle, skipWithoutQemu, spawnQemu } from "./helpers/qemu.ts";
import { within } from "./helpers/within.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function startQemu(): Promise<QemuHandle> {
  const qemu = spawnQemu();
  cleanups.push(() => qemu.stop());
  await qemu.ready();
  return qemu;
}

function track<T extends QMPClient>(client: T): T {
  cleanups.push(() => client.disconnect());
  return client;
}

describe.skipIf(skipWithoutQemu)("against real QEMU", () => {
  test("connect() reads the greeting, negotiates oob and executes query-status", async () => {
    const qemu = await startQemu();
    const client = track(await within(connect(qemu.socketPath), 10_000, "connect"));
    expect(client.runstate).toBe(Runstate.RUNNING);
    expect(client.greeting?.QMP.version.qemu.major).toBeGreaterThanOrEqual(7);
    expect(client.greeting?.QMP.capabilities).toContain("oob");
    expect(client.capabilities).toEqual(["oob"]);
    const status = await within(client.execute("query-status"));
    expect(status.running).toBe(true);
    expect(status.status).toBe("running");
  });

  test("an unknown command rejects with ExecuteError(CommandNotFound) and the session goes on", async () => {
    const qemu = await startQemu();
    const client = track(await connect(qemu.socketPath));
    const error = await within(client.executeUntyped("no-such-command").catch((e: unknown) => e));
    expect(error).toBeInstanceOf(ExecuteError);
    expect((error as ExecuteError).errorClass).toBe("CommandNotFound");
    expect((error as ExecuteError).message).toBe("The command no-such-command has not been found");
    expect(await within(client.execute("query-status"))).toHaveProperty("running");
  });
});
