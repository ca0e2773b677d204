/**
 * `createFakeQemu({ qemuVersion: "10.0" })` and the standalone `--qemu-version 10.0`: the fake answers from
 * QEMU 10.0's recordings (greeting, schema, query-commands) and with 10.0's rules where the model differs.
 * The contract scenarios run on it too (contract-fake.test.ts); this pins what they do not.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, ExecuteError } from "@qmpkit/qmp";
import { runFakeCli } from "../../src/cli.ts";
import { createFakeQemu, loadProfile } from "../../src/index.ts";
import { within } from "../helpers.ts";

describe("createFakeQemu({ qemuVersion: '10.0' })", () => {
  test("greets and reports the version QEMU 10.0 recorded", async () => {
    await using fake = await createFakeQemu({ qemuVersion: "10.0" });
    const client = await connect(fake.address);
    const version = { qemu: { micro: 13, minor: 0, major: 10 }, package: "Debian 1:10.0.13+ds-0+deb13u1" };
    expect(client.greeting?.QMP.version).toEqual(version);
    expect(await client.execute("query-version")).toEqual(version);
    await client.disconnect();
  });

  test("serves 10.0's schema and command list, and checks arguments against that schema", async () => {
    await using fake = await createFakeQemu({ qemuVersion: "10.0", machine: "q35" });
    const client = await connect(fake.address);
    const profile = await loadProfile({ qemuVersion: "10.0", machine: "q35" });
    expect(await client.executeUntyped("query-qmp-schema")).toEqual(profile.schema());
    const names = (await client.execute("query-commands")).map((c) => c.name);
    expect(names).toContain("query-audiodevs");
    expect(names).not.toContain("x-query-profile");
    // 10.0 dropped trace-event-get-state's vcpu: the argument check says so as QEMU 10.0 does.
    const error = await client
      .executeUntyped("trace-event-get-state", { name: "x", vcpu: 0 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecuteError);
    expect((error as ExecuteError).desc).toBe("Parameter 'vcpu' is unexpected");
    await client.disconnect();
  });

  test("query-status has no singlestep on 10.0 and keeps it on 7.2 (the schema decides)", async () => {
    await using ten = await createFakeQemu({ qemuVersion: "10.0" });
    await using seven = await createFakeQemu();
    const [a, b] = await Promise.all([connect(ten.address), connect(seven.address)]);
    expect(await a.executeUntyped("query-status")).toEqual({ status: "running", running: true });
    expect(await b.execute("query-status")).toEqual({ status: "running", singlestep: false, running: true });
    await Promise.all([a.disconnect(), b.disconnect()]);
  });

  test("a version with no recordings is refused", async () => {
    const error = await createFakeQemu({ qemuVersion: "9.1" as never }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('No recordings of QEMU "9.1": "7.2" or "10.0"');
  });
});

describe("the standalone fake's --qemu-version", () => {
  test("10.0 greets as QEMU 10.0; an unknown version exits 2 with the choices", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qmpkit-cli-"));
    try {
      const controller = new AbortController();
      const listening = Promise.withResolvers<string>();
      const done = runFakeCli(["--socket", join(dir, "q.sock"), "--qemu-version", "10.0"], {
        signal: controller.signal,
        stdout: () => {},
        onListening: (fake) => listening.resolve(fake.address),
      });
      const client = await connect(await within(listening.promise, 5000, "listening"));
      expect(client.greeting?.QMP.version.qemu.major).toBe(10);
      await client.disconnect();
      controller.abort();
      expect(await within(done, 5000)).toBe(0);
      const errors: string[] = [];
      expect(
        await runFakeCli(["--socket", join(dir, "r.sock"), "--qemu-version", "9"], {
          stderr: (l) => errors.push(l),
        }),
      ).toBe(2);
      expect(errors).toEqual(['Invalid --qemu-version "9": expected 7.2 or 10.0']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
