/**
 * The recorded device types (scripts/record-devices.ts → `profiles/qemu-<version>/devices.json.gz`): what real
 * QEMU shows of one cold-plugged and one hotplugged instance of each, turned into the view of a device with any
 * id, path and bus. Read on first use, once per QEMU version.
 */
import devices72 from "../../../profiles/qemu-7.2/devices.json.gz" with { type: "file" };
import devices100 from "../../../profiles/qemu-10.0/devices.json.gz" with { type: "file" };
import { readFileSync } from "../../lazy-node.ts";
import type { QemuRelease } from "../../qemu-10.ts";
import { DEVICES_FORMAT, type DeviceRecording, type DevicesData, type InstanceRecording } from "./format.ts";

const FILES: Partial<Record<QemuRelease, string>> = { "7.2": devices72, "10.0": devices100 };
const loaded = new Map<QemuRelease, DevicesData | undefined>();

/** The recorded device types of QEMU `version`, or undefined when none were recorded for it. */
export function deviceRecordings(version: QemuRelease): DevicesData | undefined {
  if (!loaded.has(version)) {
    const file = FILES[version];
    let data: DevicesData | undefined;
    if (file !== undefined) {
      data = JSON.parse(new TextDecoder().decode(Bun.gunzipSync(readFileSync(file)))) as DevicesData;
      if (data.format !== DEVICES_FORMAT)
        throw new Error(`unsupported devices format ${String(data.format)}`);
    }
    loaded.set(version, data);
  }
  return loaded.get(version);
}

/** One QOM object of a device as a client sees it: reply texts with this device's id and path in them. */
export interface DeviceNode {
  /** `qom-list`'s return text. */
  readonly list: string;
  /** Property → its `qom-get` reply text (`{"return": …}` or `{"error": …}`). */
  readonly get: Map<string, string>;
  /** Property → what `qom-set` of a realized device answers (QEMU's text). */
  readonly set: Map<string, string>;
}

/** A device type as recorded, ready to give any instance its view. */
export class RecordedType {
  constructor(
    readonly name: string,
    readonly recording: DeviceRecording,
    readonly data: DevicesData,
  ) {}

  /** Whether QEMU accepted the hotplug of one (onto a root port, or its own bus). */
  get hotpluggable(): boolean {
    return this.recording.hot !== undefined;
  }

  /** The `query-pci` entry of an instance on pcie.0 (a PCI device), with the recorded instance's id. */
  get pciEntry(): Record<string, unknown> | undefined {
    return this.recording.pci === undefined
      ? undefined
      : (JSON.parse(this.recording.pci) as Record<string, unknown>);
  }

  /** The type of the device inside a virtio proxy (`virtio-net-device` in `virtio-net-pci`), if any. */
  get backendType(): string | undefined {
    const text = this.recording.cold.nodes["virtio-backend"]?.get.type;
    return text === undefined ? undefined : (JSON.parse(text) as { return: string }).return;
  }

  /** The QOM subtree of an instance: with `id` (or anonymous) at `path`, cold- or hotplugged. */
  nodes(path: string, id: string | undefined, hotplugged: boolean): Map<string, DeviceNode> {
    const instance: InstanceRecording =
      hotplugged && this.recording.hot !== undefined ? this.recording.hot : this.recording.cold;
    const recordedId = hotplugged && this.recording.hot !== undefined ? this.data.hotId : this.data.coldId;
    const recordedPath = `/machine/peripheral/${recordedId}`;
    const rename = (text: string): string => {
      let out = text.replaceAll(recordedPath, path);
      if (id === undefined) out = out.replaceAll(`device '${recordedId}'`, "anonymous device");
      return out.replaceAll(recordedId, id ?? path.slice(path.lastIndexOf("/") + 1));
    };
    const nodes = new Map<string, DeviceNode>();
    for (const [relative, node] of Object.entries(instance.nodes)) {
      nodes.set(relative === "" ? "" : rename(relative), {
        list: rename(node.list),
        get: new Map(Object.entries(node.get).map(([name, text]) => [rename(name), rename(text)])),
        set: new Map(Object.entries(node.set).map(([name, text]) => [rename(name), rename(text)])),
      });
    }
    return nodes;
  }
}

/** The recorded types of a QEMU version, by name. */
export function recordedTypes(version: QemuRelease): Map<string, RecordedType> {
  const data = deviceRecordings(version);
  const types = new Map<string, RecordedType>();
  if (data === undefined) return types;
  for (const [name, recording] of Object.entries(data.types))
    types.set(name, new RecordedType(name, recording, data));
  return types;
}
