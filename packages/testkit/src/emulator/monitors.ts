/**
 * The QMP monitors a command line asks for (`-qmp`, `-qmp-pretty`, `-chardev socket,…` + `-mon …,mode=control`),
 * as places to listen: a unix path, a TCP host and port, or an inherited listening descriptor (`fd=N`, what
 * libvirt passes). Served with `Bun.listen({ fd })`, which Bun 1.4.4 accepts for an already-listening socket
 * (unix or TCP) although its type declarations do not list it (measured: see the testkit README).
 */
import { type EmulatorConfig, fail } from "./command-line.ts";

/** One monitor to open. */
export interface MonitorEndpoint {
  /** Options for the fake's listener. */
  readonly listen: ({ path: string } | { tcp: true; hostname: string; port: number } | { fd: number }) & {
    /** The chardev's id (QEMU's `compat_monitorN` for `-qmp`), as query-chardev lists it. */
    readonly monitorLabel?: string;
  };
  /** The option as written, for QEMU's message prefix. */
  readonly location: string;
  /** The address in QEMU's bind error (`Failed to bind socket to PATH`). */
  readonly describe: string;
  readonly pretty: boolean;
}

/** The control monitors in command-line order; refuses what the fake does not serve. */
export function monitorEndpoints(config: EmulatorConfig, prog: string): MonitorEndpoint[] {
  const endpoints: MonitorEndpoint[] = [];
  for (const monitor of config.monitors) {
    const chardev = config.chardevs.find((c) => c.id === monitor.chardev);
    if (chardev === undefined) continue;
    if (monitor.mode !== "control") {
      fail(
        prog,
        chardev.location,
        "the fake QEMU serves QMP monitors only (mode=control); HMP is human-monitor-command",
      );
    }
    if (chardev.backend !== "socket") {
      fail(prog, chardev.location, `the fake QEMU serves QMP on sockets only, not on '${chardev.backend}'`);
    }
    const { path, fd, host, port, server } = chardev.options;
    if (server !== "on" && server !== undefined) {
      fail(prog, chardev.location, "the fake QEMU serves QMP as a server only (server=on)");
    }
    if (fd !== undefined) {
      if (!/^\d+$/.test(fd)) fail(prog, chardev.location, `Unable to parse FD number ${fd}`);
      endpoints.push({
        listen: { fd: Number(fd), monitorLabel: chardev.id },
        location: chardev.location,
        describe: `fd ${fd}`,
        pretty: monitor.pretty,
      });
    } else if (path !== undefined) {
      endpoints.push({
        listen: { path, monitorLabel: chardev.id },
        location: chardev.location,
        describe: path,
        pretty: monitor.pretty,
      });
    } else {
      const hostname = host === undefined || host === "" ? "0.0.0.0" : host;
      endpoints.push({
        listen: { tcp: true, hostname, port: Number(port ?? 0), monitorLabel: chardev.id },
        location: chardev.location,
        describe: `${hostname}:${port}`,
        pretty: monitor.pretty,
      });
    }
  }
  return endpoints;
}

/** Socket chardevs no monitor uses (a serial port's, a channel's): QEMU binds them all the same. */
export function otherSocketEndpoints(config: EmulatorConfig): MonitorEndpoint[] {
  const monitored = new Set(config.monitors.map((m) => m.chardev));
  const endpoints: MonitorEndpoint[] = [];
  for (const chardev of config.chardevs) {
    if (monitored.has(chardev.id) || chardev.backend !== "socket" || chardev.options.server !== "on")
      continue;
    const { path, fd } = chardev.options;
    if (fd !== undefined)
      endpoints.push({
        listen: { fd: Number(fd) },
        location: chardev.location,
        describe: `fd ${fd}`,
        pretty: false,
      });
    else if (path !== undefined)
      endpoints.push({ listen: { path }, location: chardev.location, describe: path, pretty: false });
  }
  return endpoints;
}
