/**
 * What one QEMU generation says differently about a command line the other reads the same way: reworded errors,
 * a warning that became an error, a value that became valid. Each entry is the text QEMU printed for a case of
 * `test/emulator/cli-cases.ts` (recorded in `fixtures/qemu-<V>-cli-cases.json`, the case named beside it), so the
 * case tests hold every entry to its QEMU. Everything that is a list (options, machines, CPU models, devices,
 * `-help`) is recorded data in `fixtures/qemu-<V>-cli.json` instead.
 */
import type { QemuRelease } from "../qemu-10.ts";

export interface CliDialect {
  /** `-machine bogus` ("unknown machine"): `{type}` stands for the name asked for. */
  readonly unsupportedMachine: string;
  /**
   * `-overcommit mem-lock=` ("bad overcommit"): `undefined` while it is QEMU's on/off boolean; from 10.0 an enum
   * whose values, and whose refusal, are these.
   */
  readonly memLock: { readonly values: readonly string[]; readonly refused: string } | undefined;
  /**
   * A zero in `-smp` ("smp zero warns"): 7.2 warns that the topology is deprecated and starts; 10.0 refuses it.
   * The text follows `prog: `.
   */
  readonly smpZero: { readonly fatal: boolean; readonly text: string };
  /**
   * "Could not access KVM kernel module" ("accel=kvm:tcg falls back to tcg"): a bare line in 7.2; from 10.0 an
   * error report, with the program name, the `-accel` option and the `-msg timestamp=on` stamp.
   */
  readonly kvmOpenReported: boolean;
}

export const CLI_DIALECTS: Readonly<Record<QemuRelease, CliDialect>> = {
  "7.2": {
    unsupportedMachine: "unsupported machine type",
    memLock: undefined,
    smpZero: {
      fatal: false,
      text: "warning: Deprecated CPU topology (considered invalid): CPU topology parameters must be greater than zero",
    },
    kvmOpenReported: false,
  },
  "10.0": {
    unsupportedMachine: 'unsupported machine type: "{type}"',
    memLock: {
      values: ["on", "off", "on-fault"],
      refused: "parameter 'mem-lock' expects one of 'on', 'off', 'on-fault'",
    },
    smpZero: {
      fatal: true,
      text: "Invalid CPU topology: CPU topology parameters must be greater than zero",
    },
    kvmOpenReported: true,
  },
};
