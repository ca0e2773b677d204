/**
 * The jobs registry and the verbs on it: `job-*` (by id, "Job not found") and `block-job-*` (block jobs only,
 * DeviceNotActive "Block job '…' not found"), `query-jobs` and `query-block-jobs`. The commands that start jobs
 * are in block-jobs.ts.
 */
import { QMPCommandError } from "../../errors.ts";
import type { JsonObject } from "../../types.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi, VmCommandContext } from "../types.ts";
import { Job } from "./job.ts";

const JOB_ID = /^[A-Za-z][A-Za-z0-9_.-]*$/;

export class Jobs {
  static readonly provides: SubsystemProvides = PROVIDES.jobs;

  readonly #jobs = new Map<string, Job>();
  readonly #vm: VmApi;

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("query-jobs", () => [...this.#jobs.values()].map((job) => job.jobInfo()));
    vm.command("query-block-jobs", () =>
      [...this.#jobs.values()].filter((job) => job.isBlockJob).map((job) => job.blockJobInfo()),
    );

    const byId = (args: JsonObject) => this.#job(String(args.id));
    const byDevice = (args: JsonObject) => this.#blockJob(String(args.device));
    const blockById = (args: JsonObject) => this.#blockJob(String(args.id));
    vm.command("job-pause", (args) => byId(args).pause());
    vm.command("job-resume", (args) => byId(args).resume());
    vm.command("job-cancel", (args, ctx) => byId(args).cancel(true, (fn) => ctx.afterReply(fn)));
    vm.command("job-complete", (args, ctx) => byId(args).complete((fn) => ctx.afterReply(fn)));
    vm.command("job-finalize", (args) => byId(args).finalize());
    vm.command("job-dismiss", (args) => byId(args).dismiss());
    vm.command("block-job-pause", (args) => byDevice(args).pause());
    vm.command("block-job-resume", (args) => byDevice(args).resume());
    vm.command("block-job-cancel", (args, ctx) =>
      byDevice(args).cancel(args.force === true, (fn) => ctx.afterReply(fn)),
    );
    vm.command("block-job-complete", (args, ctx) => byDevice(args).complete((fn) => ctx.afterReply(fn)));
    vm.command("block-job-set-speed", (args) => byDevice(args).setSpeed(Number(args.speed)));
    vm.command("block-job-finalize", (args) => blockById(args).finalize());
    vm.command("block-job-dismiss", (args) => blockById(args).dismiss());
  }

  /** Every job, oldest first. */
  list(): Job[] {
    return [...this.#jobs.values()];
  }

  /** Checks a new job's id as QEMU's job_create does. */
  checkId(id: unknown): string {
    if (typeof id !== "string") throw new QMPCommandError("GenericError", "An explicit job ID is required");
    if (!JOB_ID.test(id)) throw new QMPCommandError("GenericError", `Invalid job ID '${id}'`);
    if (this.#jobs.has(id)) throw new QMPCommandError("GenericError", `Job ID '${id}' already in use`);
    return id;
  }

  /** Registers a job built by a command and starts it. */
  start(init: Omit<ConstructorParameters<typeof Job>[1], "onGone">, ctx: VmCommandContext): Job {
    const job = new Job(this.#vm, { ...init, onGone: (gone) => this.#jobs.delete(gone.id) });
    this.#jobs.set(job.id, job);
    job.start((fn) => ctx.afterReply(fn));
    return job;
  }

  #job(id: string): Job {
    const job = this.#jobs.get(id);
    if (job === undefined) throw new QMPCommandError("GenericError", "Job not found");
    return job;
  }

  #blockJob(id: string): Job {
    const job = this.#jobs.get(id);
    if (job === undefined || !job.isBlockJob)
      throw new QMPCommandError("DeviceNotActive", `Block job '${id}' not found`);
    return job;
  }
}
