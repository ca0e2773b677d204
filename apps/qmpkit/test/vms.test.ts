import { describe, expect, test } from "bun:test";
import { renderPsTable } from "../src/commands/ps.ts";
import { parseOptions, parseQemuCommandLine } from "../src/vms.ts";

describe("parseQemuCommandLine", () => {
  test("-name and -qmp shorthands; client sockets and readline monitors are not QMP servers", () => {
    const argv = [
      "/usr/bin/qemu-system-x86_64",
      "-name",
      "guest=vm1,debug-threads=on",
      "-qmp",
      "unix:/run/vm1.sock,server=on,wait=off",
      "-qmp",
      "tcp:[::1]:4444,server=on,wait=off",
      "-qmp",
      "unix:/run/client.sock",
      "-chardev",
      "socket,id=hmp,path=/run/hmp.sock,server=on",
      "-mon",
      "chardev=hmp,mode=readline",
    ];
    expect(parseQemuCommandLine(argv)).toEqual({
      name: "vm1",
      qmp: [
        { kind: "unix", path: "/run/vm1.sock" },
        { kind: "tcp", host: "::1", port: 4444 },
      ],
    });
  });

  test("libvirt's form: -chardev socket,fd=N with -mon mode=control, traced to the socket path", () => {
    const argv = [
      "/usr/bin/qemu-system-x86_64",
      "-name",
      "guest=web,,prod,debug-threads=on",
      "-chardev",
      "socket,id=charmonitor,fd=23,server=on,wait=off",
      "-mon",
      "chardev=charmonitor,id=monitor,mode=control",
    ];
    const lookups: number[] = [];
    const result = parseQemuCommandLine(argv, (fd) => {
      lookups.push(fd);
      return "/var/lib/libvirt/qemu/domain-1-web/monitor.sock";
    });
    expect(lookups).toEqual([23]);
    expect(result).toEqual({
      name: "web,prod",
      qmp: [{ kind: "unix", path: "/var/lib/libvirt/qemu/domain-1-web/monitor.sock" }],
    });
  });

  test("a plain -name, and none at all", () => {
    expect(parseQemuCommandLine(["qemu-system-aarch64", "-name", "plain"]).name).toBe("plain");
    expect(parseQemuCommandLine(["qemu-system-aarch64", "-M", "virt"])).toEqual({ name: undefined, qmp: [] });
  });

  test("parseOptions: a leading bare word, ',,' for a comma, flags without a value", () => {
    expect([...parseOptions("socket,id=a,,b,server")]).toEqual([
      ["_", "socket"],
      ["id", "a,b"],
      ["server", "on"],
    ]);
  });
});

test("ps's table lines up its columns", () => {
  expect(
    renderPsTable([
      { pid: 7, name: "vm1", status: "running", qmp: ["unix:/run/vm1.sock"] },
      { pid: 12345, name: null, status: "no QMP monitor", qmp: [] },
    ]),
  ).toBe(
    [
      "PID    NAME  STATUS          QMP",
      "7      vm1   running         unix:/run/vm1.sock",
      "12345  -     no QMP monitor  -",
    ].join("\n"),
  );
});
