/**
 * The layout of `profiles/qemu-<version>/devices.json.gz` (written by scripts/record-devices.ts): per device type,
 * one cold-plugged and, where QEMU allows it, one hotplugged instance as real QEMU showed them. Reply texts are
 * QEMU's, minus the `id` (`{"return": …}` or `{"error": …}`); the instance ids stand for any device's id.
 */

export const DEVICES_FORMAT = "qmpkit-devices/1";

/** One QOM object of an instance: `qom-list`'s reply, and `qom-get`/`qom-set` (to its own value) per property. */
export interface NodeRecording {
  list: string;
  get: Record<string, string>;
  set: Record<string, string>;
}

/** A device instance's QOM subtree, by path relative to the device (`""` is the device itself). */
export interface InstanceRecording {
  nodes: Record<string, NodeRecording>;
}

export interface DeviceRecording {
  coldArgs: Record<string, unknown>;
  cold: InstanceRecording;
  /** The device's entry in `query-pci` (cold, on pcie.0), as JSON. */
  pci?: string;
  hotArgs?: Record<string, unknown>;
  hot?: InstanceRecording;
  /** Why QEMU refused the hotplug, if it did. */
  hotError?: string;
}

export interface DevicesData {
  format: typeof DEVICES_FORMAT;
  qemu: string;
  coldId: string;
  hotId: string;
  types: Record<string, DeviceRecording>;
}
