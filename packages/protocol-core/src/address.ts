import type { TLSOptions } from "bun";

/**
 * Where to connect or listen: a unix socket path (`/run/qemu.sock`, `unix:/run/qemu.sock`), a TCP endpoint
 * (`tcp:127.0.0.1:4444`, `{ host, port }`), an explicit `{ path }`, or `inproc:NAME`, a listener in this same
 * process (see `listenInProcess`).
 */
export type SocketAddress = string | { path: string } | { host: string; port: number };

/** A {@link SocketAddress} after parsing. */
export type ResolvedAddress =
  | { kind: "unix"; path: string }
  | { kind: "tcp"; host: string; port: number }
  | { kind: "inproc"; name: string };

/** TLS settings for TCP addresses; `true` means "TLS with the system's trust store". */
export type TlsSetting = boolean | TLSOptions;

function parsePort(text: string, original: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`Invalid port in address "${original}": expected an integer 0-65535`);
  }
  return port;
}

/** Parses any {@link SocketAddress} form; throws `TypeError` with the reason when it is not one. */
export function resolveAddress(address: SocketAddress): ResolvedAddress {
  if (typeof address === "object") {
    if ("path" in address) return { kind: "unix", path: address.path };
    return { kind: "tcp", host: address.host, port: parsePort(String(address.port), `${address.host}`) };
  }
  if (address.startsWith("unix:")) return { kind: "unix", path: address.slice("unix:".length) };
  if (address.startsWith("inproc:")) {
    const name = address.slice("inproc:".length);
    if (name.length === 0) throw new TypeError(`Invalid address "${address}": expected inproc:NAME`);
    return { kind: "inproc", name };
  }
  if (address.startsWith("tcp:")) {
    const rest = address.slice("tcp:".length);
    const colon = rest.lastIndexOf(":");
    if (colon <= 0) throw new TypeError(`Invalid address "${address}": expected tcp:HOST:PORT`);
    const host = rest.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
    return { kind: "tcp", host, port: parsePort(rest.slice(colon + 1), address) };
  }
  if (address.length === 0) throw new TypeError("Empty socket address");
  return { kind: "unix", path: address };
}

/** A human-readable form, for messages and logs. */
export function formatAddress(address: ResolvedAddress): string {
  switch (address.kind) {
    case "unix":
      return `unix:${address.path}`;
    case "tcp":
      return `tcp:${address.host}:${address.port}`;
    case "inproc":
      return `inproc:${address.name}`;
  }
}
