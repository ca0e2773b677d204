/**
 * Mirror jobs as a VM manager drives a storage migration: to READY, inspected, paused and resumed, completed;
 * then the same with auto-finalize and auto-dismiss off, walking each verb and the refusals of verbs a state
 * does not accept; and a READY mirror cancelled (which completes it without a pivot). With null-co nodes the copy
 * finishes inside the command: QEMU sends READY before the blockdev-mirror reply.
 */
import { cmd, type Flow, waitFor } from "./flow.ts";

const MiB = 1024 * 1024;

export const jobsMirror: Flow = {
  name: "jobs-mirror",
  description: "blockdev-mirror to READY, job-* and block-job-* verbs, manual finalize/dismiss, cancel",
  vm: { startPaused: true },
  steps: () => [
    cmd("blockdev-add", { "node-name": "src", driver: "null-co", size: 4 * MiB }),
    cmd("blockdev-add", { "node-name": "dst", driver: "null-co", size: 4 * MiB }),
    cmd("blockdev-add", { "node-name": "dst2", driver: "null-co", size: 4 * MiB }),
    cmd("blockdev-mirror", { "job-id": "m1", device: "src", target: "dst", sync: "full" }),
    cmd("query-jobs"),
    cmd("query-block-jobs"),
    cmd("job-finalize", { id: "m1" }),
    cmd("job-dismiss", { id: "m1" }),
    cmd("blockdev-del", { "node-name": "dst" }),
    cmd("block-job-set-speed", { device: "m1", speed: 1048576 }),
    cmd("job-pause", { id: "m1" }),
    cmd("query-jobs"),
    cmd("job-resume", { id: "m1" }),
    cmd("job-resume", { id: "m1" }),
    cmd("job-complete", { id: "m1" }),
    waitFor("JOB_STATUS_CHANGE", 4),
    cmd("query-jobs"),
    cmd("job-complete", { id: "no-such-job" }),
    cmd("blockdev-mirror", {
      "job-id": "m2",
      device: "src",
      target: "dst",
      sync: "full",
      "auto-finalize": false,
      "auto-dismiss": false,
    }),
    cmd("block-job-complete", { device: "m2" }),
    waitFor("BLOCK_JOB_PENDING"),
    cmd("query-jobs"),
    cmd("job-dismiss", { id: "m2" }),
    cmd("job-finalize", { id: "m2" }),
    cmd("query-block-jobs"),
    cmd("job-dismiss", { id: "m2" }),
    cmd("blockdev-mirror", { "job-id": "m3", device: "src", target: "dst2", sync: "full" }),
    cmd("block-job-cancel", { device: "m3" }),
    waitFor("JOB_STATUS_CHANGE", 4),
    cmd("query-jobs"),
  ],
};
