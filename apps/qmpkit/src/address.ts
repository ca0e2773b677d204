/**
 * Address syntax on the command line:
 *
 * | written as              | means                                   |
 * |-------------------------|-----------------------------------------|
 * | `unix:PATH`             | unix socket at PATH (any characters)    |
 * | `tcp:HOST:PORT`         | TCP; an IPv6 HOST goes in `[brackets]`  |
 * | `HOST:PORT`             | TCP, when PORT is all digits            |
 * | anything with a `/`     | unix socket path                        |
 * | a plain name            | unix socket path in the current dir     |
 *
 * `--fake` is not an address; the command layer handles it.
 */

import { CliUsageError } from "./errors.ts";

export type Address =
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number };

const HOW = "use unix:PATH, tcp:HOST:PORT, HOST:PORT or a socket path";

/**
 * Parses a QMP address as typed by a user.
 * @throws {CliUsageError} with a message that says what is wrong and what would work.
 * @example parseAddress("tcp:[::1]:4444") // { kind: "tcp", host: "::1", port: 4444 }
 */
export function parseAddress(text: string): Address {
  if (text === "") throw new CliUsageError(`empty address; ${HOW}`);
  if (text.startsWith("unix:")) {
    const path = text.slice("unix:".length);
    if (path === "") throw new CliUsageError("'unix:' needs a socket path, as in unix:/tmp/qmp.sock");
    return { kind: "unix", path };
  }
  if (text.startsWith("tcp:")) return { kind: "tcp", ...parseHostPort(text.slice("tcp:".length)) };
  // QEMU's other chardev spellings: `fd:3` would otherwise read as host "fd", port 3.
  const foreign = /^(fd|vsock|file|pipe|stdio|chardev):/.exec(text)?.[1];
  if (foreign !== undefined) {
    throw new CliUsageError(
      `'${text}': qmpkit cannot connect through '${foreign}:'; ${HOW} (a socket file of that name is ./${text})`,
    );
  }
  if (text.includes("/") || !text.includes(":")) return { kind: "unix", path: text };

  const colon = text.lastIndexOf(":");
  const port = text.slice(colon + 1);
  if (/^\d+$/.test(port)) return { kind: "tcp", ...parseHostPort(text) };
  const scheme = text.slice(0, text.indexOf(":") + 1);
  throw new CliUsageError(
    `'${text}': unknown address type '${scheme}' (known: unix:, tcp:); for a socket path in this directory write ./${text}`,
  );
}

/**
 * Parses `HOST:PORT` (`[v6]:PORT` for IPv6).
 * @param allowZero accept port 0, meaning "any free port" when listening.
 */
export function parseHostPort(text: string, allowZero = false): { host: string; port: number } {
  const colon = text.lastIndexOf(":");
  if (colon < 0) throw new CliUsageError(`'${text}' needs a port, as in ${text || "localhost"}:4444`);
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) {
    host = host.slice(1, -1);
  } else if (host.includes(":")) {
    if (/^[0-9a-fA-F:.]+(%\S+)?$/.test(host)) {
      throw new CliUsageError(`IPv6 host '${host}' needs brackets: [${host}]:${portText}`);
    }
    throw new CliUsageError(`'${text}' is not HOST:PORT; ${HOW}`);
  }
  if (host === "") throw new CliUsageError(`missing host in '${text}', as in localhost${text}`);
  if (!/^\d+$/.test(portText)) throw new CliUsageError(`port '${portText}' in '${text}' is not a number`);
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !allowZero)) {
    throw new CliUsageError(`port ${portText} in '${text}' is out of range (${allowZero ? 0 : 1}-65535)`);
  }
  return { host, port };
}

/** The canonical spelling of an address, for messages and logs. */
export function formatAddress(address: Address): string {
  if (address.kind === "unix") return `unix:${address.path}`;
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return `tcp:${host}:${address.port}`;
}
