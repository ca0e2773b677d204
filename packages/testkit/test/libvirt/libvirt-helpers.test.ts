/** The libvirt scenario's plumbing, without libvirt: step splitting, quoting, normalisation, the trace reader. */
import { describe, expect, test } from "bun:test";
import {
  commandCounts,
  commandSet,
  commandsSent,
  exchangesOn,
  MAX_REPLY_CHARS,
  parseMonitorLog,
  type TraceEntry,
} from "./monitor-trace.ts";
import { differingSteps, normaliseOutput, stepsFromText, stepsToText } from "./normalise.ts";
import { splitSteps, virshScript } from "./scenario.ts";

const run = { dir: "/tmp/qmpkit-libvirt-AbC123", emulator: "/opt/fake/qemu-system-x86_64" };

describe("virshScript and splitSteps", () => {
  test("each step is preceded by an echo marker, and arguments with spaces or JSON are single-quoted", () => {
    const script = virshScript(
      [
        { name: "qmp", args: ["qemu-monitor-command", "d", '{"execute":"query-status"}'] },
        { name: "define", args: ["define", "$DIR/domain.xml"] },
      ],
      "/tmp/x",
      "/e",
    );
    expect(script).toBe(
      `echo '@@qmpkit-step qmp'; qemu-monitor-command d '{"execute":"query-status"}'; ` +
        "echo '@@qmpkit-step define'; define /tmp/x/domain.xml",
    );
  });

  test("splits virsh's output at the markers and keeps stray text before the first one", () => {
    const output = "warning\n@@qmpkit-step a\nline 1\n\n@@qmpkit-step b\nerror: x\n";
    expect(splitSteps(output)).toEqual([
      { name: "(preamble)", output: "warning\n" },
      { name: "a", output: "line 1\n\n" },
      { name: "b", output: "error: x\n" },
    ]);
  });
});

describe("normaliseOutput", () => {
  test("replaces the run's dir, the emulator, ptys, RSS, allocation, firmware, log stamps, host and PATH, pids, the signal's sender, the monitor's fd", () => {
    const text = [
      `Domain 'd' defined from ${run.dir}/domain.xml`,
      `<emulator>${run.emulator}</emulator>`,
      "<source path='/dev/pts/17'/>",
      "actual 262144",
      "rss 51234",
      "Allocation:     8192",
      " vda      67108864   204800       196616",
      "      <value>/usr/share/OVMF/OVMF_CODE_4M.fd</value>",
      "      <value>rom</value>",
      "2026-12-06 20:32:31.088+0000: starting up libvirt version: 9.0.0, qemu version: 7.2.22Debian 1:7.2, kernel: 6.1, hostname: vm",
      "PATH=/root/bin:/usr/bin \\",
      "-chardev socket,id=charmonitor,fd=6,server=on,wait=off \\",
      "2026-12-06T20:32:34.506383Z qemu-system-x86_64: terminating on signal 15 from pid 19094 (virsh)",
      "",
    ].join("\n");
    expect(normaliseOutput(text, run)).toBe(
      [
        "Domain 'd' defined from $DIR/domain.xml",
        "<emulator>$EMULATOR</emulator>",
        "<source path='/dev/pts/N'/>",
        "actual 262144",
        "rss <host RSS>",
        "Allocation:     <allocated>",
        " vda      67108864   <allocated>       196616",
        "      <value>rom</value>",
        "starting up libvirt version: 9.0.0, qemu version: <host>",
        "PATH=<PATH> \\",
        "-chardev socket,id=charmonitor,fd=N,server=on,wait=off \\",
        "qemu-system-x86_64: terminating on signal 15 from pid <pid> (<sender>)",
        "",
      ].join("\n"),
    );
  });

  test("the fixture text form round-trips, and differingSteps names changed, missing and extra steps", () => {
    const steps = { a: "one\n", b: "\n", c: "three\n" };
    expect(stepsFromText(stepsToText(steps))).toEqual(steps);
    expect(differingSteps(steps, { a: "one\n", c: "3\n", d: "" })).toEqual(["b", "c", "d"]);
  });
});

describe("parseMonitorLog", () => {
  const log = [
    "2026-12-06 19:44:49.001+0000: 1: debug : virDomainSuspend:100 : dom=0x1",
    "2026-12-06 19:44:49.002+0000: 1: debug : virDomainFree:100 : dom=0x1",
    "2026-12-06 19:44:49.010+0000: 1: info : qemuMonitorOpenInternal:647 : QEMU_MONITOR_NEW: mon=0xaa fd=7",
    '2026-12-06 19:44:49.010+0000: 2: debug : qemuMonitorJSONIOProcessLine:189 : Line [{"QMP": {"version": {}, "capabilities": []}}]',
    '2026-12-06 19:44:49.011+0000: 1: info : qemuMonitorSend:861 : QEMU_MONITOR_SEND_MSG: mon=0xaa msg={"execute":"stop","id":"libvirt-1"}\r',
    " fd=-1",
    '2026-12-06 19:44:49.012+0000: 2: info : qemuMonitorJSONIOProcessLine:203 : QEMU_MONITOR_RECV_EVENT: mon=0xaa event={"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}',
    '2026-12-06 19:44:49.013+0000: 2: info : qemuMonitorJSONIOProcessLine:208 : QEMU_MONITOR_RECV_REPLY: mon=0xaa reply={"return": {}, "id": "libvirt-1"}',
    '2026-12-06 19:44:49.014+0000: 1: info : qemuMonitorSend:861 : QEMU_MONITOR_SEND_MSG: mon=0xaa msg={"execute":"getfd","arguments":{"fdname":"x"},"id":"libvirt-2"}\r',
    " fd=30",
    `2026-12-06 19:44:49.015+0000: 2: info : qemuMonitorJSONIOProcessLine:208 : QEMU_MONITOR_RECV_REPLY: mon=0xaa reply={"return": ["${"x".repeat(MAX_REPLY_CHARS)}"], "id": "libvirt-2"}`,
    '2026-12-06 19:44:49.016+0000: 1: info : qemuMonitorSend:861 : QEMU_MONITOR_SEND_MSG: mon=0xaa msg={"execute":"human-monitor-command","arguments":{"command-line":"info status"},"id":"libvirt-3"}\r',
    " fd=-1",
    "2026-12-06 19:44:49.020+0000: 1: info : qemuMonitorClose:782 : QEMU_MONITOR_CLOSE: mon=0xaa",
    "",
  ].join("\n");

  test("keeps API calls, opens, sends (marking passed fds), replies, events without timestamps, in order", () => {
    expect(parseMonitorLog(log)).toEqual([
      { api: "virDomainSuspend" },
      { monitor: 1, open: true },
      { monitor: 1, recv: { QMP: { version: {}, capabilities: [] } } },
      { monitor: 1, send: { execute: "stop", id: "libvirt-1" } },
      { monitor: 1, event: "STOP" },
      { monitor: 1, recv: { return: {}, id: "libvirt-1" } },
      { monitor: 1, send: { execute: "getfd", arguments: { fdname: "x" }, id: "libvirt-2" }, withFd: true },
      {
        monitor: 1,
        recv: { return: `(condensed: array of 1, ${MAX_REPLY_CHARS + 32} chars)`, id: "libvirt-2" },
      },
      {
        monitor: 1,
        send: {
          execute: "human-monitor-command",
          arguments: { "command-line": "info status" },
          id: "libvirt-3",
        },
      },
      { monitor: 1, close: true },
    ]);
  });

  test("summarises the commands sent: in order, as a set, and counted", () => {
    const trace = parseMonitorLog(log);
    expect(commandsSent(trace)).toEqual(["stop", "getfd", "human-monitor-command: info status"]);
    expect(commandSet(commandsSent(trace))).toEqual(["getfd", "human-monitor-command: info status", "stop"]);
    expect(commandCounts(trace)).toEqual([
      ["getfd", 1],
      ["human-monitor-command", 1],
      ["stop", 1],
    ]);
  });
});

describe("exchangesOn", () => {
  test("pairs each command sent on one monitor with its reply by id, in sending order, marking passed fds", () => {
    const trace: TraceEntry[] = [
      { monitor: 1, send: { execute: "getfd", arguments: { fdname: "m" }, id: "libvirt-2" }, withFd: true },
      { monitor: 2, send: { execute: "stop", id: "libvirt-2" } },
      { monitor: 1, send: { execute: "query-status", id: "libvirt-3" } },
      { monitor: 1, event: "STOP" },
      { monitor: 1, recv: { return: { status: "paused" }, id: "libvirt-3" } },
      { monitor: 1, recv: { return: {}, id: "libvirt-2" } },
      { monitor: 1, send: { execute: "quit", id: "libvirt-4" } },
    ];
    expect(exchangesOn(trace, 1)).toEqual([
      {
        send: { execute: "getfd", arguments: { fdname: "m" }, id: "libvirt-2" },
        withFd: true,
        reply: { return: {}, id: "libvirt-2" },
      },
      {
        send: { execute: "query-status", id: "libvirt-3" },
        withFd: false,
        reply: { return: { status: "paused" }, id: "libvirt-3" },
      },
      { send: { execute: "quit", id: "libvirt-4" }, withFd: false, reply: undefined },
    ]);
  });
});
