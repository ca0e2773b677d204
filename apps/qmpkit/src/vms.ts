/**
 * Finding the QEMUs running on this host (`qmpkit ps`, and `qmpkit shell NAME`): their command lines from
 * /proc, read for `-name` and the QMP monitors (`-qmp`, or `-chardev socket,id=X` with `-mon chardev=X,
 * mode=control`). A monitor passed as a file descriptor (libvirt's `fd=N`) is traced through /proc/PID/fd and
 * /proc/net/unix to its socket path.
 */

import type { Address } from "./address.ts";

/** A QEMU process as its command line describes it. */
export interface QemuInstance {
  readonly pid: number;
  /** `-name`'s guest name, or undefined when it has none. */
  readonly name: string | undefined;
  /** Its QMP monitors that accept connections (server sockets), in command-line order. */
  readonly qmp: readonly Address[];
  /** The emulator binary, as run. */
  readonly binary: string;
}

/** `key=value,key=value` with QEMU's `,,` escape for a literal comma; a leading bare word is `_`. */
export function parseOptions(text: string): Map<string, string> {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "," && text[i + 1] === ",") {
      current += ",";
      i++;
    } else if (c === ",") {
      parts.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  parts.push(current);
  const options = new Map<string, string>();
  parts.forEach((part, index) => {
    const eq = part.indexOf("=");
    if (eq < 0) options.set(index === 0 ? "_" : part, index === 0 ? part : "on");
    else options.set(part.slice(0, eq), part.slice(eq + 1));
  });
  return options;
}

const ON = new Set(["on", "yes", "true"]);

/** A socket chardev's address when it listens (`server=on`); `fd=` ones are left to {@link resolveFd}. */
function socketAddress(options: Map<string, string>): Address | { fd: number } | undefined {
  if (!ON.has(options.get("server") ?? "off")) return undefined;
  const path = options.get("path");
  if (path !== undefined) return { kind: "unix", path };
  const host = options.get("host");
  const port = Number(options.get("port"));
  if (host !== undefined && Number.isInteger(port) && port > 0)
    return { kind: "tcp", host: host || "localhost", port };
  const fd = Number(options.get("fd"));
  if (Number.isInteger(fd)) return { fd };
  return undefined;
}

/** `-qmp unix:PATH,server=on` and friends: QEMU's chardev shorthand. */
function qmpShorthand(spec: string): Address | undefined {
  const options = parseOptions(spec);
  const head = options.get("_") ?? "";
  if (head.startsWith("unix:")) {
    return ON.has(options.get("server") ?? "off") ? { kind: "unix", path: head.slice(5) } : undefined;
  }
  if (head.startsWith("tcp:")) {
    const hostPort = head.slice(4);
    const colon = hostPort.lastIndexOf(":");
    const port = Number(hostPort.slice(colon + 1));
    const host = hostPort.slice(0, colon).replace(/^\[|\]$/g, "") || "localhost";
    return ON.has(options.get("server") ?? "off") && Number.isInteger(port)
      ? { kind: "tcp", host, port }
      : undefined;
  }
  return undefined;
}

/**
 * Reads a QEMU command line: the guest name and its QMP server sockets.
 * @param resolveFd maps a file descriptor the process was given to its socket path (libvirt's `fd=N`).
 */
export function parseQemuCommandLine(
  argv: readonly string[],
  resolveFd: (fd: number) => string | undefined = () => undefined,
): { name: string | undefined; qmp: Address[] } {
  let name: string | undefined;
  const chardevs = new Map<string, Address | { fd: number }>();
  const monitors: string[] = [];
  const qmp: Address[] = [];
  for (let i = 1; i < argv.length; i++) {
    const flag = (argv[i] ?? "").replace(/^--/, "-");
    const value = argv[i + 1];
    if (value === undefined) break;
    if (flag === "-name") {
      const options = parseOptions(value);
      name = options.get("guest") ?? options.get("_");
      i++;
    } else if (flag === "-qmp" || flag === "-qmp-pretty") {
      const address = qmpShorthand(value);
      if (address) qmp.push(address);
      i++;
    } else if (flag === "-chardev") {
      const options = parseOptions(value);
      const id = options.get("id");
      const address = options.get("_") === "socket" ? socketAddress(options) : undefined;
      if (id !== undefined && address !== undefined) chardevs.set(id, address);
      i++;
    } else if (flag === "-mon") {
      const options = parseOptions(value);
      const chardev = options.get("chardev");
      if (chardev !== undefined && (options.get("mode") ?? "readline") === "control") monitors.push(chardev);
      i++;
    }
  }
  for (const id of monitors) {
    const address = chardevs.get(id);
    if (address === undefined) continue;
    if ("kind" in address) qmp.push(address);
    else {
      const path = resolveFd(address.fd);
      if (path !== undefined) qmp.push({ kind: "unix", path });
    }
  }
  return { name: name === "" ? undefined : name, qmp };
}

/** Every QEMU on this host that this user can see, by pid. */
export async function findQemus(): Promise<QemuInstance[]> {
  const { readdirSync } = await import("node:fs");
  const { socketInode, unixSocketPaths } = await import("@qmpkit/protocol-core");
  const sockets = unixSocketPaths();
  const found: QemuInstance[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = (await Bun.file(`/proc/${entry}/cmdline`).text())
        .split("\0")
        .filter((a, i, all) => a !== "" || i < all.length - 1);
    } catch {
      continue; // Gone, or not ours to read.
    }
    const binary = argv[0] ?? "";
    const base = binary.slice(binary.lastIndexOf("/") + 1);
    if (!base.startsWith("qemu-system-") && base !== "qemu-kvm") continue;
    const resolveFd = (fd: number) => {
      const inode = socketInode(Number(entry), fd);
      return inode === undefined ? undefined : sockets.get(inode);
    };
    const { name, qmp } = parseQemuCommandLine(argv, resolveFd);
    found.push({ pid: Number(entry), name, qmp, binary });
  }
  return found.sort((a, b) => a.pid - b.pid);
}
