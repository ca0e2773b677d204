/**
 * The other block jobs a VM manager runs: backups (one automatic, one with auto-finalize/auto-dismiss off, using
 * the block-job-* verbs), a stream of a qcow2 overlay from its backing node, and an active commit (which, like a
 * mirror, waits in READY). A null-co backup runs to its end inside the command: every event precedes the reply.
 */
import { cmd, type Flow, type Step, waitFor } from "./flow.ts";

const MiB = 1024 * 1024;

/** A fresh qcow2 overlay `name` over a null-co `base`, made with two blockdev-create jobs. */
function overlay(dir: string, name: string, base: string): Step[] {
  return [
    cmd("blockdev-create", {
      "job-id": `create-${name}-file`,
      options: { driver: "file", filename: `${dir}/${name}.qcow2`, size: 0 },
    }),
    waitFor("JOB_STATUS_CHANGE", 3),
    cmd("job-dismiss", { id: `create-${name}-file` }),
    cmd("blockdev-add", { "node-name": `${name}-file`, driver: "file", filename: `${dir}/${name}.qcow2` }),
    cmd("blockdev-create", {
      "job-id": `create-${name}`,
      options: { driver: "qcow2", file: `${name}-file`, size: 4 * MiB },
    }),
    waitFor("JOB_STATUS_CHANGE", 3),
    cmd("job-dismiss", { id: `create-${name}` }),
    cmd("blockdev-add", { "node-name": base, driver: "null-co", size: 4 * MiB, "read-zeroes": true }),
    cmd("blockdev-add", { "node-name": name, driver: "qcow2", file: `${name}-file`, backing: base }),
  ];
}

export const jobsOthers: Flow = {
  name: "jobs-others",
  description: "blockdev-backup (auto and manual), blockdev-create, block-stream, active block-commit",
  vm: { startPaused: true },
  steps: ({ dir }) => [
    cmd("blockdev-add", { "node-name": "src", driver: "null-co", size: 4 * MiB }),
    cmd("blockdev-add", { "node-name": "dst", driver: "null-co", size: 4 * MiB }),
    cmd("blockdev-backup", { "job-id": "b1", device: "src", target: "dst", sync: "full" }),
    cmd("query-jobs"),
    cmd("blockdev-backup", {
      "job-id": "b2",
      device: "src",
      target: "dst",
      sync: "full",
      "auto-finalize": false,
      "auto-dismiss": false,
    }),
    cmd("job-complete", { id: "b2" }),
    cmd("query-jobs"),
    cmd("block-job-finalize", { id: "b2" }),
    cmd("block-job-dismiss", { id: "b2" }),
    cmd("block-job-dismiss", { id: "b2" }),
    ...overlay(dir, "top1", "base1"),
    cmd("block-stream", { "job-id": "s1", device: "top1" }),
    waitFor("JOB_STATUS_CHANGE", 4),
    ...overlay(dir, "top2", "base2"),
    // Data in the overlay makes the commit do I/O before READY; an empty one may reach READY before its reply.
    cmd("blockdev-backup", { "job-id": "b3", device: "src", target: "top2", sync: "full" }),
    waitFor("BLOCK_JOB_COMPLETED"),
    waitFor("JOB_STATUS_CHANGE", 2),
    cmd("block-commit", { "job-id": "k1", device: "top2" }),
    waitFor("BLOCK_JOB_READY"),
    cmd("query-block-jobs"),
    cmd("block-job-complete", { device: "k1" }),
    waitFor("JOB_STATUS_CHANGE", 4),
    cmd("query-jobs"),
  ],
};
