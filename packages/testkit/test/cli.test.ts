/**
 * The standalone fake: as a child process (how another language uses it), and runFakeCli in-process (how the
 * qmpkit CLI wraps it).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@qmpkit/qmp";
import { runFakeCli } from "../src/cli.ts";
import type { FakeQemu } from "../src/index.ts";
import { RawPeer, within } from "./helpers.ts";

const CLI = join(import.meta.dir, "..", "src", "cli.ts");
const SCRIPT = join(import.meta.dir, "cli-handlers-fixture.ts");
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-cli-"));
  dirs.push(dir);
  return dir;
}

/** Reads a child's stdout as JSON lines, one at a time. */
function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<Record<string, unknown>> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return async () => {
    for (;;) {
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        return JSON.parse(line) as Record<string, unknown>;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`stdout ended; partial: ${buffered}`);
      buffered += decoder.decode(value, { stream: true });
    }
  };
}

describe("cli as a child process", () => {
  test("--socket with --script: serves scripted commands, prints what it receives, stops cleanly on SIGTERM", async () => {
    const path = join(tempDir(), "qmp.sock");
    await using proc = Bun.spawn(["bun", CLI, "--socket", path, "--script", SCRIPT], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const next = lineReader(proc.stdout);
    expect(await within(next(), 10_000, "listening line")).toEqual({
      type: "listening",
      address: `unix:${path}`,
    });

    const client = await within(connect(`unix:${path}`), 5000);
    expect(await client.executeUntyped("x-hello", { name: "bun" })).toEqual({ hello: "bun" });
    expect(await client.execute("query-name")).toEqual({ name: "from-script" });
    await client.disconnect();

    const received = [await next(), await next(), await next()];
    expect(received.map((r) => [r.type, r.client, (r.message as { execute: string }).execute])).toEqual([
      ["received", 1, "qmp_capabilities"],
      ["received", 1, "x-hello"],
      ["received", 1, "query-name"],
    ]);
    expect(typeof received[1]?.raw).toBe("string");

    proc.kill("SIGTERM");
    expect(await within(proc.exited, 5000)).toBe(0);
    expect(await new Response(proc.stderr).text()).toBe("");
    expect(existsSync(path)).toBe(false);
  });

  test("--tcp HOST:0 and quit: the process exits by itself after quit", async () => {
    await using proc = Bun.spawn(["bun", CLI, "--tcp", "127.0.0.1:0"], { stdout: "pipe", stderr: "pipe" });
    const next = lineReader(proc.stdout);
    const listening = await within(next(), 10_000, "listening line");
    expect(listening.address).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
    const peer = await RawPeer.connect(listening.address as string);
    await peer.negotiate();
    peer.send('{"execute": "quit"}\n');
    await peer.waitClosed();
    expect(await within(proc.exited, 5000)).toBe(0);
  });

  test("bad arguments: usage on stderr, exit status 2", async () => {
    const proc = Bun.spawn(["bun", CLI, "--bogus"], { stdout: "pipe", stderr: "pipe" });
    expect(await within(proc.exited, 10_000)).toBe(2);
    expect(await new Response(proc.stderr).text()).toContain("Usage: fake");
  });
});

describe("runFakeCli in-process", () => {
  test("runs until its signal aborts and writes JSON lines through the given sink", async () => {
    const lines: string[] = [];
    const controller = new AbortController();
    const listening = Promise.withResolvers<string>();
    const done = runFakeCli(["--socket", join(tempDir(), "q.sock")], {
      signal: controller.signal,
      stdout: (line) => lines.push(line),
      onListening: (fake) => listening.resolve(fake.address),
    });
    const address = await within(listening.promise, 5000, "listening");
    const client = await connect(address);
    await client.execute("query-status");
    await client.disconnect();
    controller.abort();
    expect(await within(done, 5000)).toBe(0);
    expect(lines.map((l) => JSON.parse(l).type)).toEqual(["listening", "received", "received"]);
  });

  test("--machine q35 serves the q35 profile; an unknown machine is refused", async () => {
    const controller = new AbortController();
    const listening = Promise.withResolvers<FakeQemu>();
    const done = runFakeCli(["--socket", join(tempDir(), "q.sock"), "--machine", "q35"], {
      signal: controller.signal,
      stdout: () => {},
      onListening: (fake) => listening.resolve(fake),
    });
    const fake = await within(listening.promise, 5000, "listening");
    expect(fake.machine).toBe("q35");
    const client = await connect(fake.address);
    const types = (await client.executeUntyped("qom-list-types", { implements: "machine" })) as {
      name: string;
    }[];
    expect(types.map((t) => t.name)).toContain("pc-q35-7.2-machine");
    await client.disconnect();
    controller.abort();
    expect(await within(done, 5000)).toBe(0);

    const errors: string[] = [];
    expect(await runFakeCli(["--socket", "a", "--machine", "pc"], { stderr: (l) => errors.push(l) })).toBe(2);
    expect(errors.join("\n")).toContain('Unknown --machine "pc": expected none or q35');
  });

  test("needs exactly one of --socket and --tcp", async () => {
    const errors: string[] = [];
    expect(await runFakeCli([], { stderr: (l) => errors.push(l) })).toBe(2);
    expect(await runFakeCli(["--socket", "a", "--tcp", "b:1"], { stderr: (l) => errors.push(l) })).toBe(2);
    expect(errors.join("\n")).toContain("exactly one of --socket PATH or --tcp HOST:PORT");
  });
});
