import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fetchSchema } from "../scripts/fetch-schema.ts";
import { generateTypes } from "../src/qapi/generate.ts";
import { indexSchema } from "../src/qapi/schema.ts";
import { validateArguments } from "../src/qapi/validate.ts";
import { skipWithoutQemu, spawnQemu } from "./helpers/qemu.ts";
import { runTsc, strictTsconfig } from "./qapi-helpers.ts";

// Without QEMU the test is skipped, except under CI=true, where it runs and fails: CI must not go green by
// silently testing nothing.
test.skipIf(skipWithoutQemu)(
  "types generated from a live QEMU's schema compile under strict tsc",
  async () => {
    await using qemuHandle = spawnQemu();
    // The socket file appears at bind, before QEMU listens: ready() waits for the kernel's listening flag.
    await qemuHandle.ready();
    const { dir, socketPath } = qemuHandle;
    const { schema, qemuVersion } = await fetchSchema(socketPath);
    const index = indexSchema(schema);
    expect(index.commands.has("query-status")).toBe(true);
    expect(index.events.has("SHUTDOWN")).toBe(true);

    await Bun.write(join(dir, "qemu.ts"), generateTypes(schema, { qemuVersion }));
    await Bun.write(
      join(dir, "usage.ts"),
      [
        'import type { Commands, Events } from "./qemu.ts";',
        "declare function execute<K extends keyof Commands>(name: K, args: Commands[K]['args']): Promise<Commands[K]['returns']>;",
        "export async function use(): Promise<boolean> {",
        "  const status = await execute('query-status', {});",
        "  // @ts-expect-error blockdev-del requires node-name",
        "  await execute('blockdev-del', {});",
        "  const shutdown: Events['SHUTDOWN'] = { guest: false, reason: 'host-qmp-quit' };",
        "  return status.running && shutdown.guest;",
        "}",
        "",
      ].join("\n"),
    );
    await Bun.write(join(dir, "tsconfig.json"), JSON.stringify(strictTsconfig(["qemu.ts", "usage.ts"])));
    const result = await runTsc(join(dir, "tsconfig.json"));
    expect(result.output).toBe("");
    expect(result.exitCode).toBe(0);

    // The live schema also drives validation: a wrong argument is caught, with the valid members listed.
    const [problem] = validateArguments(index, "blockdev-del", { "node-name": "d", force: true });
    expect(problem?.kind).toBe("unknown-member");
    expect(problem?.message).toContain("valid members: node-name");
    await qemuHandle.stop();
    expect(existsSync(dir)).toBe(false);
  },
);
