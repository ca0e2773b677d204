/**
 * QEMU's option table: every option `qemu-system-x86_64` knows, with whether it takes an argument (QEMU's
 * `HAS_ARG`), so the emulator fails the way QEMU does for an unknown option (`-foo: invalid option`) or a missing
 * argument (`-m: requires an argument`) — and, for an option QEMU knows but the fake does not model, says so
 * instead of ignoring it. The table differs by generation (10.0 dropped `-singlestep`, `-no-acpi`, `-chroot`…
 * and added `-run-with`, `-shim`…), so it is recorded from each QEMU by `scripts/record-emulator.ts` into
 * `fixtures/qemu-<V>-cli.json` (`options`). `MODELLED_OPTIONS` lists what the emulator implements (see
 * `command-line.ts`); an option the chosen generation lacks is refused by the table before the model sees it.
 */

/** Option name (without dashes) → whether it takes an argument, as one QEMU binary has them. */
export type OptionTable = Readonly<Record<string, boolean>>;

/** Whether the QEMU whose table this is has the option (name without dashes). */
export function isQemuOption(table: OptionTable, name: string): boolean {
  return Object.hasOwn(table, name);
}

/** Whether the option takes an argument. */
export function takesArgument(table: OptionTable, name: string): boolean {
  return table[name] === true;
}

/** The options the emulator implements; any other option QEMU knows is refused with a clear message. */
export const MODELLED_OPTIONS: readonly string[] = [
  "h",
  "help",
  "version",
  "machine",
  "M",
  "accel",
  "enable-kvm",
  "cpu",
  "m",
  "smp",
  "object",
  "device",
  "blockdev",
  "drive",
  "netdev",
  "chardev",
  "audiodev",
  "global",
  "rtc",
  "boot",
  "overcommit",
  "incoming",
  "qmp",
  "qmp-pretty",
  "mon",
  "monitor",
  "serial",
  "parallel",
  "daemonize",
  "pidfile",
  "S",
  "no-shutdown",
  "no-reboot",
  "no-acpi",
  "name",
  "uuid",
  "msg",
  "sandbox",
  "nodefaults",
  "no-user-config",
  "display",
  "nographic",
  "vnc",
  "vga",
];
