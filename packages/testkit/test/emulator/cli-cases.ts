/**
 * Command lines whose outcome (stdout, stderr, exit status) is recorded from the real QEMU 7.2 and 10.0 by
 * `scripts/record-emulator.ts` and replayed against the fake QEMU emulator, run as the same generation, by
 * `cli-cases.test.ts`.
 * `CLI_CASE_DIR` stands for a fresh temp dir (the process's cwd). A case whose `probe.sock` appears has started;
 * it is then stopped with SIGTERM.
 */
import type { QemuRelease } from "../../src/qemu-10.ts";

export const CLI_CASE_DIR = "<dir>";

const base = ["-machine", "none", "-nodefaults", "-display", "none"];
const q35 = ["-machine", "q35,accel=tcg", "-m", "256", "-nodefaults", "-display", "none"];
const qmp = ["-qmp", `unix:${CLI_CASE_DIR}/probe.sock,server=on,wait=off`];

export interface CliCase {
  readonly name: string;
  readonly args: readonly string[];
  /** Recorded on a host without /dev/kvm (QEMU's KVM messages): skipped where KVM exists. */
  readonly withoutKvm?: boolean;
  /**
   * Recorded for this generation only: an option the other one lacks, whose outcome there (a VM that starts)
   * the fake does not model.
   */
  readonly only?: QemuRelease;
}

function bad(name: string, ...args: string[]): CliCase {
  return { name, args: [...base, ...args] };
}

function good(name: string, ...args: string[]): CliCase {
  return { name, args: [...args, ...qmp] };
}

export const CLI_CASES: readonly CliCase[] = [
  // The option itself
  { name: "unknown option", args: ["-foo"] },
  { name: "unknown option, two dashes", args: ["--foo", "x"] },
  { name: "missing argument", args: ["-machine"] },
  { name: "missing argument of -name", args: [...base, "-name"] },
  { name: "-version", args: ["-version"] },
  { name: "--version", args: ["--version"] },
  { name: "-h", args: ["-h"] },
  { name: "-version after a bad value", args: ["-m", "abc", "-version"] },
  { name: "-accel help", args: ["-accel", "help"] },
  { name: "-machine help", args: ["-machine", "help"] },
  // Machine and accelerator
  bad("unknown machine", "-machine", "bogus"),
  bad("unknown machine property", "-machine", "pc-q35-7.2,bogus=1"),
  bad("unknown none property", "-machine", "none,bogus=on"),
  bad("unknown accelerator", "-accel", "kvmx"),
  bad("bad tcg thread", "-accel", "tcg,thread=bogus"),
  bad("unknown CPU model", "-cpu", "nosuchcpu"),
  bad("bad memory size", "-m", "abc"),
  bad("bad memory suffix", "-m", "1x"),
  bad("smp not a number", "-smp", "x"),
  bad("smp maxcpus below cpus", "-smp", "2,maxcpus=1"),
  // Process and monitor options
  bad("bad uuid", "-uuid", "xyz"),
  bad("bad msg timestamp", "-msg", "timestamp=maybe"),
  bad("unknown msg parameter", "-msg", "bogus=on"),
  bad("unknown name parameter", "-name", "guest=a,bogus=1"),
  bad("bad sandbox", "-sandbox", "bogus"),
  bad("bad overcommit", "-overcommit", "mem-lock=maybe"),
  bad("unknown overcommit parameter", "-overcommit", "x=y"),
  bad("bad rtc clock", "-rtc", "clock=xx"),
  bad("bad rtc base", "-rtc", "base=foo"),
  bad("bad display", "-display", "bogus"),
  bad("unknown display parameter", "-display", "none,bogus=1"),
  bad("bad boot device", "-boot", "zz"),
  bad("bad incoming address", "-incoming", "tcp:x"),
  bad("pidfile in a missing dir", "-pidfile", "/nonexistent/dir/pid"),
  bad("qmp with an unknown backend", "-qmp", "bogus:x"),
  bad("qmp in a missing dir", "-qmp", "unix:/nonexistent/dir/q.sock,server=on,wait=off"),
  bad("chardev socket without path or fd", "-chardev", "socket,id=a"),
  bad(
    "chardev socket in a missing dir",
    "-chardev",
    "socket,id=m,path=/nonexistent/dir/x,server=on,wait=off",
  ),
  bad(
    "duplicate chardev id",
    "-chardev",
    `socket,id=a,path=${CLI_CASE_DIR}/a.sock,server=on,wait=off`,
    "-chardev",
    `socket,id=a,path=${CLI_CASE_DIR}/b.sock,server=on,wait=off`,
  ),
  bad("mon on an unknown chardev", "-mon", "chardev=zz"),
  bad("mon with a bad mode", "-mon", "chardev=zz,mode=bogus"),
  bad("global without a value", "-global", "foo"),
  // Options one generation has and the other lacks (QEMU's first pass: each option known, with its argument)
  { name: "-singlestep, gone in 10.0", args: ["-singlestep", "-foo"] },
  { name: "-no-acpi, gone in 10.0", args: ["-no-acpi", "-foo"] },
  // libvirt passes it for a domain without <acpi/>: 7.2 starts (acpi=off), 10.0 knows no such option.
  good("-no-acpi on q35", ...q35, "-no-acpi"),
  { name: "-chroot, gone in 10.0", args: ["-chroot"] },
  { name: "-run-with, new in 10.0", args: ["-run-with"] },
  { name: "-jitdump, new in 10.0", args: ["-jitdump", "-foo"] },
  bad("q35 of 10.0", "-machine", "pc-q35-10.0,bogus=1"),
  // Backends and devices
  bad("unknown device", "-device", "nosuch"),
  bad("unknown device, JSON", "-device", '{"driver":"nosuch"}'),
  bad("device JSON not closed", "-device", '{"driver":"x"'),
  bad("device JSON with two values", "-device", '{"driver":"x"}}'),
  bad("device JSON trailing comma", "-device", '{"driver":"nosuch",}'),
  bad("device JSON driver not a string", "-device", '{"driver":1}'),
  bad("object of an unknown type", "-object", '{"qom-type":"nope","id":"x"}'),
  bad("object without id", "-object", '{"qom-type":"memory-backend-ram"}'),
  bad("memory backend without size", "-object", "memory-backend-ram,id=m"),
  bad("blockdev without node-name", "-blockdev", '{"driver":"null-co"}'),
  bad("blockdev keyval without node-name", "-blockdev", "driver=null-co"),
  bad("blockdev of an unknown driver", "-blockdev", '{"driver":"nosuch","node-name":"a"}'),
  bad("drive of a missing file", "-drive", "file=/nonexistent/disk.img,if=none"),
  // -drive is recorded on 7.2 only (the fake's -drive follows 7.2's drive_new).
  ...[
    bad("drive of an unknown format", "-drive", "file=/dev/null,format=bogus"),
    bad("drive on an unknown interface", "-drive", "file=/dev/null,format=raw,if=bogus"),
    bad("drive of an unknown media", "-drive", "file=/dev/null,format=raw,media=bogus"),
    bad("drive if=virtio without a PCI bus", "-drive", "file=/dev/null,format=raw,if=virtio"),
    // Opening the image and creating devices come after the monitor is set up: these give the fake one too.
    good("drive not in the format given", ...base, "-drive", "file=/dev/null,format=qcow2,if=none"),
    bad(
      "drive with a duplicate id",
      "-drive",
      "file=/dev/null,format=raw,if=none,id=d0",
      "-drive",
      "file=/nonexistent/disk.img,if=none,id=d0",
    ),
    good(
      "device on a drive that does not exist",
      ...q35,
      "-drive",
      "file=/dev/null,format=raw,if=none,id=d0",
      "-device",
      "virtio-blk-pci,drive=d1",
    ),
    good(
      "drive used by two devices",
      ...q35,
      "-drive",
      "file=/dev/null,format=raw,if=none,id=d0",
      "-device",
      "virtio-blk-pci,drive=d0",
      "-device",
      "virtio-blk-pci,drive=d0",
    ),
  ].map((c): CliCase => ({ ...c, only: "7.2" })),
  bad("netdev without id", "-netdev", "user"),
  bad("netdev JSON without id", "-netdev", '{"type":"user"}'),
  bad("netdev of an unknown type", "-netdev", "nosuch,id=n"),
  bad("audiodev JSON without driver", "-audiodev", '{"id":"a"}'),
  bad("audiodev of an unknown driver", "-audiodev", "nosuch,id=a"),
  // Command lines that start
  good("none machine", ...base),
  good("q35 machine", ...q35),
  good("short-form boolean", ...base, "-msg", "timestamp"),
  good("smp zero warns", ...base, "-smp", "0"),
  good("nographic", "-machine", "none", "-nodefaults", "-nographic"),
  // libvirt's probe: KVM first, TCG when KVM fails
  {
    ...good(
      "accel=kvm:tcg falls back to tcg",
      "-machine",
      "none,accel=kvm:tcg",
      "-nodefaults",
      "-display",
      "none",
    ),
    withoutKvm: true,
  },
  {
    ...good("-accel kvm -accel tcg falls back", ...base, "-accel", "kvm", "-accel", "tcg"),
    withoutKvm: true,
  },
  { ...bad("accel=kvm alone fails without KVM", "-machine", "none,accel=kvm"), withoutKvm: true },
];
