/** Where the libvirt scenario's recorded fixtures live (written by scripts/record-libvirt.ts). */
import { join } from "node:path";

export const FIXTURE_DIR = join(import.meta.dir, "..", "..", "fixtures", "libvirt");
/** Normalised output of every virsh step against real QEMU 7.2. */
export const STEPS_FIXTURE = "libvirt-9.0-qemu-7.2-steps.txt";
/** libvirt's QMP traffic in the same run, condensed (monitor-trace.ts). */
export const TRACE_FIXTURE = "libvirt-9.0-qemu-7.2-qmp.jsonl";

/** The two fixtures of the scenario run on real QEMU `qemuVersion` (7.2 above, or the Debian 13 tree's 10.0). */
export function libvirtFixtures(qemuVersion: "7.2" | "10.0"): { steps: string; trace: string } {
  return {
    steps: `libvirt-9.0-qemu-${qemuVersion}-steps.txt`,
    trace: `libvirt-9.0-qemu-${qemuVersion}-qmp.jsonl`,
  };
}
