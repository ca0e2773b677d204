/**
 * recordTranscript proxies a QMP server and logs both directions; replayTranscript plays a recording back and
 * refuses (loudly) what was not recorded. Recorded through the fake always, and through real QEMU when present.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, ExecuteError, type QMPClient } from "@qmpkit/qmp";
import {
  createFakeQemu,
  readTranscript,
  recordTranscript,
  replayTranscript,
  requireQemu,
  skipWithoutQemu,
  spawnQemu,
  TranscriptError,
} from "../src/index.ts";
import { within } from "./helpers.ts";

const BOUND = 5000;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempFile(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-transcript-"));
  dirs.push(dir);
  return join(dir, name);
}

/** The session recorded and replayed: a query, a state change with its event, HMP, quit. */
async function session(client: QMPClient): Promise<unknown[]> {
  using stops = client.listen({ names: ["STOP"] });
  const results: unknown[] = [];
  results.push(await within(client.execute("query-status"), BOUND));
  results.push(await within(client.execute("stop"), BOUND));
  results.push((await within(stops.get(), BOUND)).event);
  results.push(
    await within(client.execute("human-monitor-command", { "command-line": "info status" }), BOUND),
  );
  results.push(await within(client.execute("quit"), BOUND));
  await within(client.disconnect(), BOUND);
  return results;
}

const EXPECTED = [
  { status: "running", singlestep: false, running: true },
  {},
  "STOP",
  "VM status: paused\r\n",
  {},
];

async function recordAndReplay(targetAddress: string): Promise<void> {
  const file = tempFile("session.jsonl");
  const recorder = await recordTranscript({ target: targetAddress, file });
  const live = await within(connect(recorder.address), BOUND);
  expect(await session(live)).toEqual(EXPECTED);
  await recorder.close();

  const entries = await readTranscript(file);
  expect(entries.length).toBe(recorder.entries);
  const lines = entries.filter((e) => "line" in e) as { from: string; line: string; t: number }[];
  expect(lines[0]?.from).toBe("server");
  expect(JSON.parse(lines[0]?.line as string)).toHaveProperty("QMP");
  expect(lines.filter((l) => l.from === "client").map((l) => JSON.parse(l.line).execute)).toEqual([
    "qmp_capabilities",
    "query-status",
    "stop",
    "human-monitor-command",
    "quit",
  ]);
  expect(lines.map((l) => l.t)).toEqual(lines.map((l) => l.t).sort((a, b) => a - b));

  await using fake = await replayTranscript(file);
  const replayed = await within(connect(fake.address), BOUND);
  expect(await session(replayed)).toEqual(EXPECTED);
  expect(fake.errors).toEqual([]);
}

describe("record and replay", () => {
  test("through the fake: the replay answers the same session identically", async () => {
    await using target = await createFakeQemu();
    await recordAndReplay(target.address);
  });

  test.skipIf(skipWithoutQemu())(
    "through real QEMU: the replay answers the same session identically",
    async () => {
      requireQemu();
      await using qemu = await spawnQemu();
      await recordAndReplay(qemu.address);
    },
  );

  test("replay fails loudly on a command that was not recorded next", async () => {
    await using target = await createFakeQemu();
    const file = tempFile("short.jsonl");
    const recorder = await recordTranscript({ target: target.address, file });
    const live = await within(connect(recorder.address), BOUND);
    await live.execute("query-status");
    await live.disconnect();
    await recorder.close();

    await using fake = await replayTranscript(file);
    const client = await within(connect(fake.address), BOUND);
    const error = await within(
      client.execute("query-kvm").catch((e: unknown) => e),
      BOUND,
    );
    expect(error).toBeInstanceOf(ExecuteError);
    expect((error as ExecuteError).desc).toContain("qmpkit replay: expected");
    expect((error as ExecuteError).desc).toContain("query-status");
    expect(fake.errors).toHaveLength(1);
    // The expected command still gets its recorded answer afterwards.
    expect((await client.execute("query-status")).status).toBe("running");
    const extra = await client.execute("query-status").catch((e: ExecuteError) => e.desc);
    expect(extra).toContain("the recording ends here");
    await client.disconnect();
  });

  test("readTranscript rejects a file that is not a transcript", async () => {
    const file = tempFile("bad.jsonl");
    writeFileSync(file, '{"hello": 1}\n');
    expect(readTranscript(file)).rejects.toBeInstanceOf(TranscriptError);
    expect(readTranscript(join(tmpdir(), "does-not-exist-qmpkit.jsonl"))).rejects.toBeInstanceOf(
      TranscriptError,
    );
  });
});
