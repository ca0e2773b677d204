/**
 * Which path a unix socket is bound to, from Linux's /proc: `/proc/PID/fd/N` names a socket by its inode
 * (`socket:[123]`) and /proc/net/unix lists the bound ones with their paths. What getsockname() would say, for
 * sockets Bun gives no address for (a listener made from an inherited fd) or that belong to another process.
 */
import { readFileSync, readlinkSync } from "./lazy-fs.ts";

/** Bound unix socket paths by inode (abstract names left out); empty where /proc/net/unix cannot be read. */
export function unixSocketPaths(): Map<string, string> {
  const paths = new Map<string, string>();
  let table: string;
  try {
    table = readFileSync("/proc/net/unix", "utf8");
  } catch {
    return paths;
  }
  // Columns: Num RefCount Protocol Flags Type St Inode [Path]; abstract names start with '@'.
  for (const line of table.split("\n").slice(1)) {
    const columns = line.trim().split(/\s+/);
    const [inode, path] = [columns[6], columns[7]];
    if (inode !== undefined && path?.startsWith("/")) paths.set(inode, path);
  }
  return paths;
}

/** The inode of the socket open as descriptor `fd` of process `pid` (`self`: this one), if it is a socket. */
export function socketInode(pid: number | "self", fd: number): string | undefined {
  try {
    return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
  } catch {
    return undefined;
  }
}
