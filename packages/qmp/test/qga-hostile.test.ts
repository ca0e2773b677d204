import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QGAClient, QGAError } from "../src/qga/index.ts";
import { within } from "./helpers/within.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A raw agent: answers the sync handshake properly, then answers every command with `reply`. */
function rawAgent(reply: string): string {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-qga-hostile-"));
  const path = join(dir, "qga.sock");
  let buffered = "";
  const server = Bun.listen({
    unix: path,
    socket: {
      data(socket, chunk) {
        buffered += chunk.toString("latin1");
        for (let newline = buffered.indexOf("\n"); newline !== -1; newline = buffered.indexOf("\n")) {
          const line = buffered.slice(0, newline).replace(/^\xff/, "");
          buffered = buffered.slice(newline + 1);
          const sync = /"guest-sync-delimited".*"id":\s*(\d+)/.exec(line);
          // latin1 keeps \xff one raw byte: the sentinel is not valid UTF-8 on purpose.
          socket.write(Buffer.from(sync ? `\xff{"return": ${sync[1]}}\n` : reply, "latin1"));
        }
      },
    },
  });
  cleanups.push(() => {
    server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  });
  return path;
}

test("an error reply nested 100,000 levels deep is a QGAError with a bounded description, not a RangeError", async () => {
  const depth = 100_000;
  const path = rawAgent(`{"error": ${"[".repeat(depth)}${"]".repeat(depth)}}\n`);
  const qga = new QGAClient();
  cleanups.push(() => qga.disconnect().catch(() => {}));
  await within(qga.connect(path), 5000, "connect");
  const error = await within(
    qga.executeUntyped("guest-ping").catch((e: unknown) => e),
    5000,
    "guest-ping",
  );
  expect(error).toBeInstanceOf(QGAError);
  expect((error as QGAError).message.length).toBeLessThan(400);
});
