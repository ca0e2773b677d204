/**
 * The set-up the VM tests share: a fake QEMU, a client connected to it and a private temp dir, all released
 * when the test that asked for them finishes (passed or not), so no file keeps its own lists and afterEach.
 */
import { onTestFinished } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type QMPClient } from "@qmpkit/qmp";
import { createFakeQemu, type FakeQemu, type FakeQemuOptions } from "../../src/index.ts";

export interface FakeSession {
  readonly fake: FakeQemu;
  readonly client: QMPClient;
  /** A fresh directory for the test's host files. */
  readonly dir: string;
}

/** Call inside a test: everything it returns is gone once that test finishes. */
export async function fakeSession(options: FakeQemuOptions = {}): Promise<FakeSession> {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-vm-"));
  let fake: FakeQemu | undefined;
  let client: QMPClient | undefined;
  onTestFinished(async () => {
    await client?.disconnect().catch(() => {});
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  fake = await createFakeQemu(options);
  client = await connect(fake.address);
  return { fake, client, dir };
}
