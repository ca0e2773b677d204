/**
 * Chardevs other than monitors, as far as a VM manager can see them: a `pty` gets a real pseudo-terminal (libvirt
 * reads its path from `query-chardev` and QEMU prints "char device redirected to /dev/pts/N (label ID)"), and a
 * listening socket is bound so its path exists and bind errors are QEMU's. Nothing is ever written to them: the
 * fake has no guest console output.
 */
import type { SocketListener } from "bun";
import type { ChardevSpec } from "./command-line.ts";

/** An open pseudo-terminal: its slave's path, and a close function. */
export interface OpenPty {
  readonly path: string;
  close(): void;
}

/** Opens a pseudo-terminal through libc (`posix_openpt`, `grantpt`, `unlockpt`, `ptsname`). */
export function openPty(): OpenPty {
  const { dlopen } = require("bun:ffi") as typeof import("bun:ffi");
  const libc = dlopen("libc.so.6", {
    posix_openpt: { args: ["int"], returns: "int" },
    grantpt: { args: ["int"], returns: "int" },
    unlockpt: { args: ["int"], returns: "int" },
    ptsname: { args: ["int"], returns: "cstring" },
    close: { args: ["int"], returns: "int" },
  });
  // O_RDWR | O_NOCTTY | O_CLOEXEC: the emulator must not get a controlling terminal, nor leak it to children.
  const fd = libc.symbols.posix_openpt(0o2 | 0o400 | 0o2000000);
  if (fd < 0 || libc.symbols.grantpt(fd) !== 0 || libc.symbols.unlockpt(fd) !== 0) {
    throw new Error("cannot open a pseudo-terminal");
  }
  const path = String(libc.symbols.ptsname(fd));
  return { path, close: () => void libc.symbols.close(fd) };
}

/** Listens on a chardev socket nobody monitors: connections are accepted and left idle. */
export function listenIdle(
  listen: { path: string } | { fd: number } | { tcp: true; hostname: string; port: number },
): SocketListener<undefined> {
  const socket = { data() {}, open() {} };
  if ("path" in listen) return Bun.listen({ unix: listen.path, socket });
  if ("fd" in listen)
    return (Bun.listen as unknown as (o: object) => SocketListener<undefined>)({ fd: listen.fd, socket });
  return Bun.listen({ hostname: listen.hostname, port: listen.port, socket });
}

/** The pty chardevs of a command line, in order. */
export function ptyChardevs(chardevs: readonly ChardevSpec[]): ChardevSpec[] {
  return chardevs.filter((c) => c.backend === "pty");
}
