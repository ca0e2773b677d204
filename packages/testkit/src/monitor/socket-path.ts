/**
 * The path a unix socket inherited as a descriptor is bound to: what getsockname() would say, which Bun does not
 * expose for a listener made from an fd. Linux's /proc names the socket's inode, and /proc/net/unix maps bound
 * inodes to paths.
 */
import { readFileSync, readlinkSync } from "node:fs";

/** The bound path of the unix socket open as `fd` in this process, if it is one and it has a path. */
export function unixSocketPath(fd: number): string | undefined {
  let inode: string | undefined;
  try {
    inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
  } catch {
    return undefined;
  }
  if (inode === undefined) return undefined;
  let table: string;
  try {
    table = readFileSync("/proc/net/unix", "utf8");
  } catch {
    return undefined;
  }
  // Columns: Num RefCount Protocol Flags Type St Inode [Path]; abstract names start with '@'.
  for (const line of table.split("\n").slice(1)) {
    const columns = line.trim().split(/\s+/);
    if (columns[6] === inode && columns[7] !== undefined && !columns[7].startsWith("@")) return columns[7];
  }
  return undefined;
}
