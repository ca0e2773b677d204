import { describe, expect, test } from "bun:test";
import { formatAddress, parseAddress, parseHostPort } from "../src/address.ts";
import { CliUsageError } from "../src/errors.ts";

describe("parseAddress", () => {
  test.each([
    ["/run/qemu/qmp.sock", { kind: "unix", path: "/run/qemu/qmp.sock" }],
    ["./qmp:1234", { kind: "unix", path: "./qmp:1234" }],
    ["qmp.sock", { kind: "unix", path: "qmp.sock" }],
    ["unix:/tmp/a b:c", { kind: "unix", path: "/tmp/a b:c" }],
    ["unix:rel", { kind: "unix", path: "rel" }],
    ["tcp:localhost:4444", { kind: "tcp", host: "localhost", port: 4444 }],
    ["tcp:[::1]:4444", { kind: "tcp", host: "::1", port: 4444 }],
    ["127.0.0.1:4444", { kind: "tcp", host: "127.0.0.1", port: 4444 }],
    ["localhost:65535", { kind: "tcp", host: "localhost", port: 65535 }],
    ["[fe80::1%eth0]:1", { kind: "tcp", host: "fe80::1%eth0", port: 1 }],
  ])("%s", (text, expected) => {
    expect(parseAddress(text)).toEqual(expected as never);
  });

  test.each([
    ["", "empty address; use unix:PATH, tcp:HOST:PORT, HOST:PORT or a socket path"],
    ["unix:", "'unix:' needs a socket path, as in unix:/tmp/qmp.sock"],
    ["tcp:localhost", "'localhost' needs a port, as in localhost:4444"],
    ["tcp:", "'' needs a port, as in localhost:4444"],
    ["tcp::4444", "missing host in ':4444', as in localhost:4444"],
    ["tcp:host:http", "port 'http' in 'host:http' is not a number"],
    ["tcp:host:0", "port 0 in 'host:0' is out of range (1-65535)"],
    ["host:65536", "port 65536 in 'host:65536' is out of range (1-65535)"],
    ["::1:4444", "IPv6 host '::1' needs brackets: [::1]:4444"],
    [
      "vsock:3:1234",
      "'vsock:3:1234': qmpkit cannot connect through 'vsock:'; use unix:PATH, tcp:HOST:PORT, HOST:PORT or a socket path (a socket file of that name is ./vsock:3:1234)",
    ],
    [
      "fd:name",
      "'fd:name': qmpkit cannot connect through 'fd:'; use unix:PATH, tcp:HOST:PORT, HOST:PORT or a socket path (a socket file of that name is ./fd:name)",
    ],
  ])("%j is rejected", (text, message) => {
    expect(() => parseAddress(text)).toThrow(message);
    expect(() => parseAddress(text)).toThrow(CliUsageError);
  });
});

describe("parseHostPort", () => {
  test("port 0 only when asked for (listening on any free port)", () => {
    expect(parseHostPort("127.0.0.1:0", true)).toEqual({ host: "127.0.0.1", port: 0 });
    expect(() => parseHostPort("127.0.0.1:0")).toThrow("out of range (1-65535)");
  });
});

describe("formatAddress", () => {
  test.each([
    ["unix:/tmp/q", "unix:/tmp/q"],
    ["tcp:[::1]:4", "tcp:[::1]:4"],
    ["h:4", "tcp:h:4"],
  ])("%s round-trips", (text, expected) => {
    expect(formatAddress(parseAddress(text))).toBe(expected);
    expect(parseAddress(formatAddress(parseAddress(text)))).toEqual(parseAddress(text));
  });
});
