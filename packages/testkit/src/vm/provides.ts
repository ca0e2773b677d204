/**
 * What each subsystem registers (see {@link SubsystemProvides}), apart from its class: the class declares it as its
 * `provides` and the VM's list (`subsystems.ts`) names it, so that the VM knows what a subsystem registers before
 * the subsystem's module is evaluated, and finds the list's entry of a class by this object (a bundler may rename
 * the class). It imports nothing, so that every subsystem's module may import it.
 */
import type { SubsystemProvides } from "./types.ts";

/**
 * Commands whose replies are constant for a binary, machine and accelerator. Only those the recorded QEMU has are
 * registered (`query-gic-capabilities` is Arm's; `query-sgx` is x86's).
 */
export const PROBE_COMMANDS: readonly string[] = [
  "query-machines",
  "query-current-machine",
  "query-cpu-definitions",
  "query-cpu-model-expansion",
  "query-target",
  "query-command-line-options",
  "qom-list-types",
  "device-list-properties",
  "qom-list-properties",
  "query-tpm-models",
  "query-tpm-types",
  "query-tpm",
  "query-sev-capabilities",
  "query-sev",
  "query-sgx-capabilities",
  "query-sgx",
  "query-gic-capabilities",
  "query-dump-guest-memory-capability",
  "query-display-options",
  "query-replay",
  "query-colo-status",
  "query-xen-replication-status",
  "query-vm-generation-id",
  "query-stats-schemas",
];

/** HMP `info` texts that are as constant as the commands above. */
export const PROBE_HMP: readonly string[] = [
  "info tpm",
  "info sev",
  "info sgx",
  "info qdm",
  "info replay",
  "info spice",
  "info vnc",
  "info opcount",
  "info profile",
  "info rdma",
  "info usbhost",
];

const hmp: SubsystemProvides = {
  commands: ["human-monitor-command"],
  hmp: ["help", "info history"],
};

const runstate: SubsystemProvides = {
  commands: ["query-status", "stop", "cont", "system_reset", "system_powerdown", "system_wakeup", "quit"],
  hmp: ["stop", "cont", "system_reset", "system_powerdown", "info status"],
};

const probe: SubsystemProvides = {
  commands: PROBE_COMMANDS,
  hmp: PROBE_HMP,
};

const identity: SubsystemProvides = {
  commands: ["query-version", "query-name", "query-uuid", "query-kvm"],
  hmp: ["info version", "info name", "info kvm", "info uuid", "info cpus"],
};

const yank: SubsystemProvides = {
  commands: ["query-yank", "yank"],
};

const migration: SubsystemProvides = {
  commands: [
    "query-migrate-capabilities",
    "migrate-set-capabilities",
    "query-migrate-parameters",
    "migrate-set-parameters",
    "query-migrate",
    "migrate",
    "migrate_cancel",
    "migrate-incoming",
    "migrate-pause",
    "migrate-recover",
  ],
};

const qom: SubsystemProvides = {
  commands: ["qom-list", "qom-get", "qom-set"],
  hmp: ["qom-list", "qom-get"],
};

const cpus: SubsystemProvides = {
  commands: ["query-hotpluggable-cpus", "query-cpus-fast"],
};

const devices: SubsystemProvides = {
  commands: ["device_add", "device_del", "query-pci", "query-memory-devices"],
  hmp: ["device_add", "device_del"],
};

const guest: SubsystemProvides = {
  // It must hear of every unplug request; the powerdown listener does nothing until a test asks it to answer.
  hooks: [devices],
};

const objects: SubsystemProvides = {
  commands: ["object-add", "object-del"],
};

const secrets: SubsystemProvides = {
  hooks: [objects],
};

const throttleGroups: SubsystemProvides = {
  hooks: [objects],
};

const block: SubsystemProvides = {
  commands: ["blockdev-add", "blockdev-del", "query-named-block-nodes", "query-block", "block_resize"],
};

const jobs: SubsystemProvides = {
  commands: [
    "query-jobs",
    "query-block-jobs",
    "job-pause",
    "job-resume",
    "job-cancel",
    "job-complete",
    "job-finalize",
    "job-dismiss",
    "block-job-pause",
    "block-job-resume",
    "block-job-cancel",
    "block-job-complete",
    "block-job-set-speed",
    "block-job-finalize",
    "block-job-dismiss",
  ],
};

const blockJobs: SubsystemProvides = {
  commands: ["blockdev-mirror", "blockdev-backup", "block-stream", "block-commit", "blockdev-create"],
};

const bitmaps: SubsystemProvides = {
  commands: [
    "block-dirty-bitmap-add",
    "block-dirty-bitmap-remove",
    "block-dirty-bitmap-enable",
    "block-dirty-bitmap-disable",
    "transaction",
  ],
};

const blockStats: SubsystemProvides = {
  commands: ["query-blockstats"],
};

const drives: SubsystemProvides = {
  hmp: ["drive_add", "drive_del"],
};

const iothreads: SubsystemProvides = {
  commands: ["query-iothreads"],
  hooks: [objects],
};

const netdevs: SubsystemProvides = {
  commands: ["netdev_add", "netdev_del"],
};

const chardevs: SubsystemProvides = {
  commands: ["chardev-add", "chardev-remove", "query-chardev", "query-chardev-backends"],
};

const fds: SubsystemProvides = {
  commands: ["getfd", "closefd", "add-fd", "remove-fd", "query-fdsets"],
};

const balloon: SubsystemProvides = {
  commands: ["query-balloon", "balloon"],
  hmp: ["info balloon"],
};

const dump: SubsystemProvides = {
  commands: ["dump-guest-memory", "query-dump"],
};

const display: SubsystemProvides = {
  commands: ["screendump"],
};

/** Each subsystem's declaration, by subsystem. */
export const PROVIDES = {
  hmp,
  runstate,
  probe,
  identity,
  yank,
  migration,
  qom,
  cpus,
  devices,
  guest,
  objects,
  secrets,
  throttleGroups,
  block,
  jobs,
  blockJobs,
  bitmaps,
  blockStats,
  drives,
  iothreads,
  netdevs,
  chardevs,
  fds,
  balloon,
  dump,
  display,
} as const;
