/**
 * npm `qemu-qmp`, a real third-party client (run by Node, see qemu-qmp-client.cjs), against the fake
 * (in-process and the standalone CLI) and against real QEMU 7.2, with one scenario whose log must be identical
 * on all three. The client writes each command as
 * JSON with no newline and no id, takes the first data chunk as the greeting, matches replies first-in
 * first-out, and emits each event under its lower-cased name: the fake must frame input as QEMU does for it to
 * work at all.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeQemu, requireQemu, skipWithoutQemu, spawnQemu } from "../../src/index.ts";
import { within } from "../helpers.ts";

const BOUND_MS = 10_000;
// Node, the CLI and QEMU start slowly on a loaded machine; the bounds inside each test are the limit.
const TEST_TIMEOUT_MS = 4 * BOUND_MS;
const CLI = join(import.meta.dir, "..", "..", "src", "cli.ts");
const CLIENT = join(import.meta.dir, "qemu-qmp-client.cjs");
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Runs the scenario with qemu-qmp in a Node child: greeting, query-status, stop (STOP before its reply), cont
 * (RESUME before its reply), a command QEMU refuses. Resolves with what happened, in order.
 */
async function scenario(path: string): Promise<string[]> {
  const child = Bun.spawn(["node", CLIENT, path], { stdout: "pipe", stderr: "pipe" });
  cleanups.push(() => {
    child.kill();
    return child.exited;
  });
  const [status, stdout, stderr] = await within(
    Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]),
    2 * BOUND_MS,
    "the qemu-qmp client",
  );
  const result = JSON.parse(stdout) as { log: string[]; error?: string };
  expect({ status, error: result.error, stderr }).toEqual({ status: 0, error: undefined, stderr: "" });
  return result.log;
}

const EXPECTED = [
  'greeting 7.2 ["oob"]',
  "query-status running",
  "event STOP",
  "stop returned",
  "query-status paused",
  "event RESUME",
  "cont returned",
  "refused: Parameter 'command-line' is missing",
];

describe("npm qemu-qmp", () => {
  test(
    "negotiates and runs commands against createFakeQemu(), events before their replies",
    async () => {
      const fake = await createFakeQemu();
      cleanups.push(() => fake.close());
      expect(await scenario(fake.path as string)).toEqual(EXPECTED);
      // It sent every message without a newline: the fake answered each at its closing brace.
      expect(fake.received.map((entry) => entry.raw)).toContain('{"execute":"qmp_capabilities"}');
      expect(fake.received.every((entry) => !entry.raw.endsWith("\n"))).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "against the standalone fake (bun src/cli.ts --socket)",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "qmpkit-qemu-qmp-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const socket = join(dir, "qmp.sock");
      const child = Bun.spawn(["bun", CLI, "--socket", socket], { stdout: "pipe", stderr: "pipe" });
      cleanups.push(async () => {
        child.kill();
        await child.exited;
      });
      const reader = child.stdout.getReader();
      const listening = await within(reader.read(), BOUND_MS, "the CLI's listening line");
      expect(new TextDecoder().decode(listening.value)).toContain('"type":"listening"');
      reader.releaseLock();
      expect(await scenario(socket)).toEqual(EXPECTED);
    },
    TEST_TIMEOUT_MS,
  );

  test.skipIf(skipWithoutQemu())(
    "against real QEMU 7.2: the same log",
    async () => {
      requireQemu();
      const qemu = await spawnQemu();
      cleanups.push(() => qemu[Symbol.asyncDispose]());
      expect(await scenario(qemu.path)).toEqual(EXPECTED);
    },
    TEST_TIMEOUT_MS,
  );
});
