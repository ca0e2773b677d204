/**
 * The capability probe of libvirt 9.0, as it sent it to QEMU 7.2 (captured from its monitor log with
 * LIBVIRT_LOG_FILTERS="1:qemu.qemu_monitor"): version, target, schema, the type lists and the properties of the
 * device types it cares about, machines, CPU models and their expansion, TPM/SEV/SGX, command-line options.
 * libvirt probes a `-machine none` QEMU, so this flow does too.
 */
import { cmd, type Flow } from "./flow.ts";

/** The device types libvirt asks `device-list-properties` about, in its order. */
const DEVICE_TYPES: readonly string[] = [
  "virtio-blk-pci",
  "virtio-net-pci",
  "virtio-scsi-pci",
  "virtio-net-ccw",
  "virtio-scsi-ccw",
  "vfio-pci",
  "scsi-hd",
  "ide-hd",
  "PIIX4_PM",
  "usb-redir",
  "usb-storage",
  "kvm-pit",
  "VGA",
  "vmware-svga",
  "qxl",
  "virtio-gpu-pci",
  "virtio-gpu-device",
  "ICH9-LPC",
  "virtio-balloon-pci",
  "virtio-balloon-ccw",
  "virtio-balloon-device",
  "intel-iommu",
  "mch",
  "nvdimm",
  "pcie-root-port",
  "usb-host",
  "vhost-user-fs-device",
  "virtio-mem-pci",
  "virtio-iommu-pci",
];

export const probe: Flow = {
  name: "probe",
  description:
    "libvirt 9.0's capability probe (machine none): schema, types, properties, machines, CPU models",
  vm: { machine: "none", startPaused: true },
  steps: () => [
    cmd("query-version"),
    cmd("query-target"),
    cmd("query-qmp-schema"),
    cmd("query-commands"),
    cmd("query-kvm"),
    cmd("qom-list-types"),
    ...DEVICE_TYPES.map((typename) => cmd("device-list-properties", { typename })),
    cmd("qom-list-properties", { typename: "memory-backend-file" }),
    cmd("qom-list-properties", { typename: "memory-backend-memfd" }),
    cmd("qom-list-properties", { typename: "max-x86_64-cpu" }),
    cmd("query-machines"),
    cmd("qom-list-properties", { typename: "none-machine" }),
    cmd("query-cpu-definitions"),
    cmd("query-tpm-models"),
    cmd("query-tpm-types"),
    cmd("query-command-line-options"),
    cmd("query-migrate-capabilities"),
    cmd("query-sev-capabilities"),
    cmd("query-sgx-capabilities"),
    cmd("query-cpu-model-expansion", { type: "static", model: { name: "host" } }),
    cmd("query-cpu-model-expansion", {
      type: "static",
      model: { name: "host", props: { migratable: false } },
    }),
    cmd("query-cpu-model-expansion", {
      type: "full",
      model: { name: "host", props: { migratable: false, "hv-passthrough": true } },
    }),
  ],
};
