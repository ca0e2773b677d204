/**
 * unixSocketPaths and socketInode read Linux's /proc: a listening socket's path is listed under its inode, and a
 * descriptor resolves to an inode only when it is a socket.
 */
import { expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { socketInode, unixSocketPaths } from "../src/index.ts";

test("a listening unix socket is listed by its path; a connected socket's descriptor has an inode, a file's none", async () => {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-unix-sockets-"));
  const path = join(dir, "s.sock");
  const listener = Bun.listen({ unix: path, socket: { data() {} } });
  try {
    expect([...unixSocketPaths().values()]).toContain(path);
    const client = await Bun.connect({ unix: path, socket: { data() {} } });
    try {
      expect(socketInode("self", (client as unknown as { fd: number }).fd)).toMatch(/^\d+$/);
    } finally {
      client.end();
    }
    const file = openSync(join(dir, "plain"), "w");
    try {
      expect(socketInode("self", file)).toBeUndefined();
    } finally {
      closeSync(file);
    }
    expect(socketInode("self", 987_654)).toBeUndefined();
  } finally {
    listener.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
});
