// `qmpkit schema --diff A B` with recorded versions, a file, a session, and a live QEMU 10.0.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadProfile, requireQemu10, skipWithoutQemu10, spawnQemu } from "@qmpkit/testkit";
import { main } from "../src/main.ts";
import { captureIO, stubSession } from "./harness.ts";

const fixtures = join(import.meta.dir, "../../../packages/testkit/fixtures");

async function run(argv: string[], setup: Parameters<typeof captureIO>[0] = {}) {
  const captured = captureIO(setup);
  const exitCode = await main(argv, captured.io);
  return { exitCode, stdout: captured.stdout(), stderr: captured.stderr(), targets: captured.targets };
}

describe("schema --diff", () => {
  test("7.2 -> 10.0 from the recorded schemas: counts first, then each change", async () => {
    const result = await run(["schema", "--diff", "7.2", "10.0"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toStartWith("7.2 -> 10.0: commands +19 -2 ~48, events +5 -2 ~2\n");
    expect(result.stdout).toContain("\n- command x-query-profile\n");
    expect(result.stdout).toContain(
      "\n~ command query-status\n    return: member removed: singlestep (bool)\n",
    );
    expect(result.targets).toEqual([]);
  });

  test("--json gives the same diff as data", async () => {
    const result = await run(["schema", "--diff", "--json", "7.2", "10.0"]);
    const diff = JSON.parse(result.stdout) as {
      commands: { removed: string[] };
      events: { added: string[] };
    };
    expect(diff.commands.removed).toEqual(["x-query-profile", "x-query-rdma"]);
    expect(diff.events.added).toContain("VFIO_MIGRATION");
  });

  test("a saved schema file against a session's live schema", async () => {
    const session = stubSession({
      "query-qmp-schema": (await loadProfile({ qemuVersion: "10.0", machine: "q35" })).schema(),
    });
    const result = await run(
      ["schema", "--diff", join(fixtures, "qemu-10.0-schema.json"), "unix:/tmp/qmpkit-diff.sock"],
      { session },
    );
    expect(result.stdout).toEndWith(": commands +0 -0 ~0, events +0 -0 ~0\n");
    expect(result.targets).toHaveLength(1);
    expect(session.closed).toBe(1);
  });

  test("an unrecorded version or a wrong number of schemas is a usage error", async () => {
    expect(await run(["schema", "--diff", "7.2", "9.1"])).toMatchObject({
      exitCode: 2,
      stderr: "qmpkit: no schema recorded for QEMU 9.1; recorded: 7.2, 10.0 (or give a file or an address)\n",
    });
    expect((await run(["schema", "--diff", "7.2"])).exitCode).toBe(2);
  });
});

describe.skipIf(skipWithoutQemu10())("schema --diff against a running QEMU 10.0", () => {
  test("the recorded 10.0 schema is what the QEMU 10.0 of the tree answers", async () => {
    requireQemu10();
    await using qemu = await spawnQemu({ qemuVersion: "10.0" });
    const captured = captureIO({});
    // The real client, not the harness's stub: this is the connection a user's run makes.
    const { openClient: _stub, ...io } = captured.io;
    const exitCode = await main(["schema", "--diff", "10.0", qemu.address], io);
    expect(captured.stderr()).toBe("");
    expect(exitCode).toBe(0);
    expect(captured.stdout()).toBe(`10.0 -> ${qemu.address}: commands +0 -0 ~0, events +0 -0 ~0\n`);
  });
});
