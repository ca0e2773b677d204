/** Where the libvirt scenario's recorded fixtures live (written by scripts/record-libvirt.ts). */
import { join } from "node:path";

export const FIXTURE_DIR = join(import.meta.dir, "..", "..", "fixtures", "libvirt");
/** Normalised output of every virsh step against real QEMU 7.2. */
export const STEPS_FIXTURE = "libvirt-9.0-qemu-7.2-steps.txt";
/** libvirt's QMP traffic in the same run, condensed (monitor-trace.ts). */
export const TRACE_FIXTURE = "libvirt-9.0-qemu-7.2-qmp.jsonl";
