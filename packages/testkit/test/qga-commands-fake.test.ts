// QGAClient's typed helpers (exec, file transfer, fsfreeze, time, network) against scripted fake-agent commands.

import { afterEach, describe, expect, test } from "bun:test";
import { QGAClient, QGAError, QGAExecTimeoutError } from "@qmpkit/qmp/qga";
import { QMPCommandError } from "../src/errors.ts";
import { createFakeQGA, type FakeQGA } from "../src/qga/fake-qga.ts";
import { cleanupList, rejection, within } from "./qga-helpers.ts";

const cleanups = cleanupList();
afterEach(() => cleanups.run());

async function connected(): Promise<{ fake: FakeQGA; qga: QGAClient }> {
  const fake = await createFakeQGA();
  cleanups.add(() => fake.close());
  const qga = new QGAClient();
  cleanups.add(() => qga.disconnect().catch(() => {}));
  await within(qga.connect(fake.address));
  return { fake, qga };
}

const b64 = (data: string | Uint8Array): string => Buffer.from(data).toString("base64");
const calls = (fake: FakeQGA, command: string) => fake.received.filter((c) => c.execute === command);

/** qemu-ga's guest-file-* semantics over an in-memory file system. */
function emulateFiles(fake: FakeQGA, options: { maxWrite?: number } = {}): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const handles = new Map<number, { path: string; position: number }>();
  let nextHandle = 1000;
  fake.handle("guest-file-open", ({ path, mode }) => {
    const name = path as string;
    if (mode === "r" && !files.has(name)) {
      throw new QMPCommandError(
        "GenericError",
        `failed to open file '${name}' (mode: 'r'): No such file or directory`,
      );
    }
    if (mode !== "r") files.set(name, new Uint8Array(0));
    handles.set(nextHandle, { path: name, position: 0 });
    return nextHandle++;
  });
  fake.handle("guest-file-read", ({ handle, count }) => {
    const open = handles.get(handle as number);
    if (open === undefined)
      throw new QMPCommandError("GenericError", `handle '${handle}' has not been found`);
    const data = files.get(open.path) as Uint8Array;
    const chunk = data.subarray(open.position, open.position + (count as number));
    open.position += chunk.length;
    return { count: chunk.length, "buf-b64": b64(chunk), eof: chunk.length < (count as number) };
  });
  fake.handle("guest-file-write", ({ handle, "buf-b64": buf }) => {
    const open = handles.get(handle as number);
    if (open === undefined)
      throw new QMPCommandError("GenericError", `handle '${handle}' has not been found`);
    const incoming = Buffer.from(buf as string, "base64");
    const taken = incoming.subarray(0, options.maxWrite ?? incoming.length);
    files.set(open.path, Buffer.concat([files.get(open.path) as Uint8Array, taken]));
    return { count: taken.length, eof: false };
  });
  fake.handle("guest-file-close", ({ handle }) => {
    if (!handles.delete(handle as number)) {
      throw new QMPCommandError("GenericError", `handle '${handle}' has not been found`);
    }
    return {};
  });
  return files;
}

describe("exec", () => {
  test("spawns with guest-exec, polls guest-exec-status until exit, decodes base64 output", async () => {
    const { fake, qga } = await connected();
    let polls = 0;
    fake.handle("guest-exec", () => ({ pid: 4242 }));
    fake.handle("guest-exec-status", () =>
      ++polls < 3
        ? { exited: false }
        : {
            exitcode: 3,
            "out-data": b64("héllo\n"),
            "err-data": b64("oops\n"),
            "out-truncated": false,
            exited: true,
          },
    );
    const result = await within(
      qga.exec("/bin/tool", ["-x", "y z"], { env: { LANG: "C" }, input: "stdin data" }),
    );
    expect(result).toEqual({
      pid: 4242,
      exitcode: 3,
      stdout: "héllo\n",
      stderr: "oops\n",
      stdoutTruncated: false,
      stderrTruncated: false,
    });
    expect(calls(fake, "guest-exec")[0]?.arguments).toEqual({
      path: "/bin/tool",
      arg: ["-x", "y z"],
      env: ["LANG=C"],
      "input-data": b64("stdin data"),
      "capture-output": true,
    });
    expect(calls(fake, "guest-exec-status").map((c) => c.arguments)).toEqual([
      { pid: 4242 },
      { pid: 4242 },
      { pid: 4242 },
    ]);
  });

  test("returns raw bytes with encoding: bytes, and the signal of a killed process", async () => {
    const { fake, qga } = await connected();
    fake.handle("guest-exec", () => ({ pid: 7 }));
    fake.handle("guest-exec-status", () => ({
      signal: 9,
      "out-data": b64(new Uint8Array([0xff, 0, 1])),
      exited: true,
    }));
    const result = await within(qga.exec("/bin/x", [], { encoding: "bytes" }));
    expect(result.exitcode).toBeUndefined();
    expect(result.signal).toBe(9);
    expect([...result.stdout]).toEqual([0xff, 0, 1]);
    expect(result.stderr).toEqual(new Uint8Array(0));
  });

  test("gives up after timeoutMs with QGAExecTimeoutError naming the pid, and the client keeps working", async () => {
    const { fake, qga } = await connected();
    fake.handle("guest-exec", () => ({ pid: 99 }));
    fake.handle("guest-exec-status", () => ({ exited: false }));
    const error = await rejection(qga.exec("/bin/sleep", ["1000"], { timeoutMs: 100, pollIntervalMs: 10 }));
    expect(error).toBeInstanceOf(QGAExecTimeoutError);
    expect((error as QGAExecTimeoutError).pid).toBe(99);
    expect((error as QGAExecTimeoutError).code).toBe("QMP_ERR_QGA_EXEC_TIMEOUT");
    await within(qga.ping());
  });

  test("reports the agent's spawn failure as QGAError", async () => {
    const { fake, qga } = await connected();
    fake.handle("guest-exec", () => {
      throw new QMPCommandError(
        "GenericError",
        "Guest agent command failed, error was 'Failed to execute child process'",
      );
    });
    const error = await rejection(qga.exec("/nonexistent"));
    expect(error).toBeInstanceOf(QGAError);
    expect(calls(fake, "guest-exec-status")).toHaveLength(0);
  });
});

describe("fileWrite and fileRead", () => {
  test("round-trip binary data (0xFF, NUL) in several chunks, closing the handle each time", async () => {
    const { fake, qga } = await connected();
    const files = emulateFiles(fake);
    const data = new Uint8Array(5000).map((_, i) => (i % 3 === 0 ? 0xff : i % 3 === 1 ? 0 : i & 0xff));
    expect(await within(qga.fileWrite("/tmp/f.bin", data, { chunkBytes: 1024 }))).toBe(5000);
    expect(calls(fake, "guest-file-write")).toHaveLength(5);
    expect(files.get("/tmp/f.bin")).toEqual(data);
    const back = await within(qga.fileRead("/tmp/f.bin", { chunkBytes: 2000 }));
    expect(back).toEqual(data);
    expect(calls(fake, "guest-file-read").map((c) => c.arguments?.count)).toEqual([2000, 2000, 2000]);
    expect(calls(fake, "guest-file-close")).toHaveLength(2);
  });

  test("resumes short writes until every byte is written", async () => {
    const { fake, qga } = await connected();
    const files = emulateFiles(fake, { maxWrite: 700 });
    const text = "x".repeat(1000);
    expect(await within(qga.fileWrite("/tmp/short", text, { chunkBytes: 1000 }))).toBe(1000);
    expect(calls(fake, "guest-file-write")).toHaveLength(2);
    expect(Buffer.from(files.get("/tmp/short") as Uint8Array).toString()).toBe(text);
  });

  test("closes the handle when a read fails, and rethrows the read's error", async () => {
    const { fake, qga } = await connected();
    const files = emulateFiles(fake);
    files.set("/tmp/r", new Uint8Array(100));
    let reads = 0;
    fake.handle("guest-file-read", () => {
      if (++reads === 2) throw new QMPCommandError("GenericError", "Input/output error");
      return { count: 10, "buf-b64": b64(new Uint8Array(10)), eof: false };
    });
    const error = await rejection(qga.fileRead("/tmp/r", { chunkBytes: 10 }));
    expect((error as QGAError).desc).toBe("Input/output error");
    expect(calls(fake, "guest-file-close")[0]?.arguments).toEqual({ handle: 1000 });
  });

  test("closes the handle after a write times out (resyncing first), and reports the timeout", async () => {
    const { fake, qga } = await connected();
    emulateFiles(fake);
    fake.handle("guest-file-write", (_args, ctx) => ctx.noReply);
    const error = await rejection(qga.fileWrite("/tmp/w", "data", { timeoutMs: 50 }));
    expect((error as Error).name).toBe("QGATimeoutError");
    await within(fake.waitFor("guest-file-close"));
    expect(fake.received.map((c) => c.execute).slice(-3)).toEqual([
      "guest-file-write",
      "guest-sync-delimited",
      "guest-file-close",
    ]);
  });

  test("does not try to close when the open itself fails", async () => {
    const { fake, qga } = await connected();
    emulateFiles(fake);
    const error = await rejection(qga.fileRead("/missing"));
    expect((error as QGAError).desc).toContain("No such file or directory");
    expect(calls(fake, "guest-file-close")).toHaveLength(0);
  });
});

describe("small helpers", () => {
  test("getTime returns the agent's nanoseconds exactly, as bigint", async () => {
    const { fake, qga } = await connected();
    fake.handle("guest-get-time", () => 1795685313187004001n);
    expect(await within(qga.getTime())).toBe(1795685313187004001n);
  });

  test("fsfreeze status, freeze and thaw", async () => {
    const { fake, qga } = await connected();
    expect(await within(qga.fsfreezeStatus())).toBe("thawed");
    expect(await within(qga.fsfreezeFreeze())).toBe(1);
    expect(await within(qga.fsfreezeStatus())).toBe("frozen");
    expect(await within(qga.fsfreezeThaw())).toBe(1);
    fake.handle("guest-fsfreeze-freeze-list", ({ mountpoints }) => (mountpoints as string[]).length);
    expect(await within(qga.fsfreezeFreeze({ mountpoints: ["/", "/boot"] }))).toBe(2);
  });

  test("networkInterfaces and info pass the agent's values through", async () => {
    const { fake, qga } = await connected();
    const lo = {
      name: "lo",
      "ip-addresses": [{ "ip-address-type": "ipv4", "ip-address": "127.0.0.1", prefix: 8 }],
    };
    fake.handle("guest-network-get-interfaces", () => [lo]);
    expect(await within(qga.networkInterfaces())).toEqual([lo]);
    const info = await within(qga.info());
    expect(info.supported_commands.find((c) => c.name === "guest-shutdown")?.["success-response"]).toBe(
      false,
    );
  });
});
