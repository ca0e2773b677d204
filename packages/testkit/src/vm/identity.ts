/**
 * Who the VM is: QEMU's version, the VM's name and UUID, the accelerator, as QMP and HMP report them.
 */

import { PROVIDES } from "./provides.ts";
import type { SubsystemProvides, VmApi } from "./types.ts";

// QEMU reports the all-zero UUID when none was given with -uuid.
const NO_UUID = "00000000-0000-0000-0000-000000000000";

/** Version, name, UUID and accelerator. */
export class Identity {
  static readonly provides: SubsystemProvides = PROVIDES.identity;

  constructor(vm: VmApi) {
    const { version, name } = vm.config;
    const uuid = vm.config.uuid ?? NO_UUID;
    vm.command("query-version", () => ({ qemu: { ...version.qemu }, package: version.package }));
    vm.command("query-name", () => (name === undefined ? {} : { name }));
    vm.command("query-uuid", () => ({ UUID: uuid }));
    // KVM is always compiled in (present); enabled only when the VM runs on it (the emulator on a KVM host).
    const kvm = vm.config.accelerator === "kvm";
    vm.command("query-kvm", () => ({ enabled: kvm, present: true }));
    vm.hmp(
      "info version",
      () => `${version.qemu.major}.${version.qemu.minor}.${version.qemu.micro}${version.package}\r\n`,
    );
    vm.hmp("info name", () => (name === undefined ? "" : `${name}\r\n`));
    vm.hmp("info kvm", () => `kvm support: ${kvm ? "enabled" : "disabled"}\r\n`);
    vm.hmp("info uuid", () => `${uuid}\r\n`);
    // -machine none has no CPUs to list.
    if (vm.machine.name === "none") vm.hmp("info cpus", () => "");
  }
}
