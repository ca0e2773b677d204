/**
 * One job and QEMU's job state machine: which verb each status accepts (QEMU's JobVerbTable), the
 * JOB_STATUS_CHANGE and BLOCK_JOB_* events in QEMU 7.2's order, auto-finalize/auto-dismiss, and progress that
 * advances on the VM clock, at the job's speed limit when it has one.
 */
import { QMPCommandError } from "../../errors.ts";
import type { JsonObject } from "../../types.ts";
import type { ClockTimer } from "../clock.ts";
import type { VmApi } from "../types.ts";

export type JobStatus =
  | "created"
  | "running"
  | "paused"
  | "ready"
  | "standby"
  | "waiting"
  | "pending"
  | "aborting"
  | "concluded"
  | "null";

export type JobVerb = "cancel" | "pause" | "resume" | "set-speed" | "complete" | "finalize" | "dismiss";

export type JobType = "mirror" | "backup" | "stream" | "commit" | "create";

// QEMU's JobVerbTable: the statuses in which each verb is accepted.
const VERBS: Record<JobVerb, readonly JobStatus[]> = {
  cancel: ["created", "running", "paused", "ready", "standby", "waiting", "pending", "aborting"],
  pause: ["created", "running", "paused", "ready", "standby"],
  resume: ["created", "running", "paused", "ready", "standby"],
  "set-speed": ["created", "running", "paused", "ready", "standby"],
  complete: ["ready"],
  finalize: ["pending"],
  dismiss: ["concluded"],
};

/** QEMU's rate-limit slice: a job copies at most speed/10 bytes per 100 ms. */
export const SLICE_MS = 100;
/** What a job copies per second with no speed limit: the fake's disk bandwidth (1 GiB/s). */
export const UNLIMITED_BYTES_PER_SECOND = 1 << 30;

/** What a job does at its milestones; the kinds of job (mirror, backup, …) differ only here. */
export interface JobBehaviour {
  /** A mirror or active commit waits in `ready` for job-complete; the others finish when copied. */
  readonly waitsForComplete: boolean;
  /** True when the copy costs nothing (null-co nodes): with no speed limit it finishes inside the command. */
  readonly instant: boolean;
  /** The job's graph change when it completes successfully (a mirror's pivot, a stream's new chain). */
  commit?(pivot: boolean): void;
  /** Releases the nodes the job blocked (always, at the end). */
  release(): void;
  /** A failure found once running (QEMU's "Source and target image have different sizes"); a create job's work. */
  failure?(): string | undefined;
}

export class Job {
  readonly id: string;
  readonly type: JobType;
  status: JobStatus = "created";
  readonly autoFinalize: boolean;
  readonly autoDismiss: boolean;
  speed: number;
  offset = 0;
  len: number;
  /** User pauses (job-pause) not yet resumed. */
  userPaused = false;
  error: string | undefined;
  /** job-complete was asked for (a mirror pivots), or block-job-cancel of a ready job (no pivot). */
  #pivot = true;
  #timer: ClockTimer | undefined;
  #rate = 0;
  #rateStart = 0;
  #rateMs = 0;
  readonly #vm: VmApi;
  readonly #behaviour: JobBehaviour;
  readonly #onGone: (job: Job) => void;

  constructor(
    vm: VmApi,
    init: {
      id: string;
      type: JobType;
      len: number;
      speed?: number;
      autoFinalize?: boolean;
      autoDismiss?: boolean;
      behaviour: JobBehaviour;
      onGone: (job: Job) => void;
    },
  ) {
    this.#vm = vm;
    this.id = init.id;
    this.type = init.type;
    this.len = init.len;
    this.speed = init.speed ?? 0;
    this.autoFinalize = init.autoFinalize ?? true;
    this.autoDismiss = init.autoDismiss ?? init.type !== "create";
    this.#behaviour = init.behaviour;
    this.#onGone = init.onGone;
  }

  get isBlockJob(): boolean {
    return this.type !== "create";
  }

  /** The command's part: created and running before the reply; an instant copy runs to its end there too. */
  start(afterReply: (fn: () => void) => void): void {
    this.#setStatus("created");
    this.#setStatus("running");
    // QEMU's backup drains its nodes once it runs, which pauses and resumes the job before the reply.
    if (this.type === "backup") {
      this.#setStatus("paused");
      this.#setStatus("running");
    }
    if (this.type === "create") {
      // The image is written in the job's coroutine, after the reply.
      afterReply(() => {
        const failure = this.#behaviour.failure?.();
        if (failure !== undefined) return this.#abort(failure);
        this.offset = this.len;
        this.#copied();
      });
      return;
    }
    const failure = this.#behaviour.failure?.();
    if (failure !== undefined) {
      afterReply(() => this.#abort(failure));
      return;
    }
    if (this.#behaviour.instant && this.speed === 0) {
      this.offset = this.len;
      this.#copied();
      return;
    }
    this.#schedule();
  }

  /** Refuses `verb` in the job's current status with QEMU's text. */
  check(verb: JobVerb): void {
    if (!VERBS[verb].includes(this.status)) {
      throw new QMPCommandError(
        "GenericError",
        `Job '${this.id}' in state '${this.status}' cannot accept command verb '${verb}'`,
      );
    }
  }

  pause(): void {
    this.check("pause");
    if (this.userPaused) throw new QMPCommandError("GenericError", "Job is already paused");
    this.userPaused = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.status === "ready") this.#setStatus("standby");
    else if (this.status === "running") this.#setStatus("paused");
  }

  resume(): void {
    this.check("resume");
    if (!this.userPaused) throw new QMPCommandError("GenericError", "Can't resume a job that was not paused");
    this.userPaused = false;
    if (this.status === "standby") this.#setStatus("ready");
    else if (this.status === "paused") {
      this.#setStatus("running");
      this.#schedule();
    }
  }

  setSpeed(speed: number): void {
    this.check("set-speed");
    if (speed < 0)
      throw new QMPCommandError("GenericError", "Parameter 'speed' expects a non-negative value");
    this.speed = speed;
  }

  /** job-complete: a ready mirror or commit finishes, pivoting, after the reply. */
  complete(afterReply: (fn: () => void) => void): void {
    this.check("complete");
    this.#pivot = true;
    afterReply(() => this.#finish());
  }

  /**
   * job-cancel (`force`) or block-job-cancel: a ready mirror cancelled without force completes without a pivot,
   * as QEMU does; anything else aborts (BLOCK_JOB_CANCELLED). Both after the reply.
   */
  cancel(force: boolean, afterReply: (fn: () => void) => void): void {
    this.check("cancel");
    if (this.status === "ready" && !force) {
      this.#pivot = false;
      afterReply(() => this.#finish());
      return;
    }
    this.#timer?.cancel();
    this.#timer = undefined;
    // QEMU 7.2 takes a backup down inside the command (its events precede the reply); the others after it.
    if (this.type === "backup") this.#abort(undefined);
    else afterReply(() => this.#abort(undefined));
  }

  /**
   * A drained section (a `transaction`): QEMU pauses every job that is not paused already and resumes it before
   * the command returns, each with its pair of JOB_STATUS_CHANGE events.
   */
  drain(): void {
    if (this.userPaused) return;
    if (this.status === "ready") {
      this.#setStatus("standby");
      this.#setStatus("ready");
    } else if (this.status === "running") {
      this.#setStatus("paused");
      this.#setStatus("running");
    }
  }

  /** job-finalize: the graph changes and the job concludes, before the reply. */
  finalize(): void {
    this.check("finalize");
    this.#finalize();
  }

  /** job-dismiss: a concluded job goes away, before the reply. */
  dismiss(): void {
    this.check("dismiss");
    this.#setStatus("null");
    this.#onGone(this);
  }

  /** `query-jobs`' element. */
  jobInfo(): JsonObject {
    const info: JsonObject = {
      "current-progress": this.offset,
      status: this.status,
      "total-progress": this.len,
      type: this.type === "create" ? "create" : this.type,
      id: this.id,
    };
    if (this.error !== undefined) info.error = this.error;
    return info;
  }

  /** `query-block-jobs`' element. */
  blockJobInfo(): JsonObject {
    const info: JsonObject = {
      "auto-finalize": this.autoFinalize,
      "io-status": "ok",
      device: this.id,
      "auto-dismiss": this.autoDismiss,
      busy: this.status === "running" && this.#timer !== undefined && this.offset < this.len,
      len: this.len,
      offset: this.offset,
      status: this.status,
      paused: this.userPaused,
      speed: this.speed,
      ready: this.status === "ready" || this.status === "standby",
      type: this.type,
    };
    // QEMU 8.2 added the mirror's active-mode flag to its BlockJobInfo variant.
    if (this.type === "mirror" && this.#vm.machine.qemuVersion !== "7.2") info["actively-synced"] = false;
    return info;
  }

  #progressData(): JsonObject {
    return { device: this.id, len: this.len, offset: this.offset, speed: this.speed, type: this.type };
  }

  #schedule(): void {
    this.#timer = this.#vm.clock.setTimeout(() => this.#slice(), SLICE_MS);
  }

  #slice(): void {
    this.#timer = undefined;
    if (this.status !== "running") return;
    const perSecond = this.speed > 0 ? this.speed : UNLIMITED_BYTES_PER_SECOND;
    if (perSecond !== this.#rate) {
      // Exact integer progress per speed: offset = where this speed started + speed × time at it.
      this.#rate = perSecond;
      this.#rateStart = this.offset;
      this.#rateMs = 0;
    }
    this.#rateMs += SLICE_MS;
    this.offset = Math.min(this.len, this.#rateStart + Math.floor((perSecond * this.#rateMs) / 1000));
    if (this.offset >= this.len) this.#copied();
    else this.#schedule();
  }

  /** Everything is copied: a mirror waits in ready, the others finish. */
  #copied(): void {
    if (this.#behaviour.waitsForComplete) {
      this.#setStatus("ready");
      this.#vm.emit("BLOCK_JOB_READY", this.#progressData());
      return;
    }
    this.#finish();
  }

  #finish(): void {
    this.#setStatus("waiting");
    this.#setStatus("pending");
    if (!this.autoFinalize) {
      if (this.isBlockJob) this.#vm.emit("BLOCK_JOB_PENDING", { type: this.type, id: this.id });
      return;
    }
    this.#finalize();
  }

  #finalize(): void {
    this.#behaviour.commit?.(this.#pivot);
    this.#behaviour.release();
    if (this.isBlockJob) this.#vm.emit("BLOCK_JOB_COMPLETED", this.#progressData());
    this.#conclude();
  }

  #abort(error: string | undefined): void {
    this.#setStatus("aborting");
    this.#behaviour.release();
    if (error !== undefined) {
      this.error = error;
      this.offset = 0;
      this.len = 0;
      if (this.isBlockJob) this.#vm.emit("BLOCK_JOB_COMPLETED", { ...this.#progressData(), error });
    } else if (this.isBlockJob) {
      this.#vm.emit("BLOCK_JOB_CANCELLED", this.#progressData());
    }
    this.#conclude();
  }

  #conclude(): void {
    this.#setStatus("concluded");
    if (this.autoDismiss) {
      this.#setStatus("null");
      this.#onGone(this);
    }
  }

  #setStatus(status: JobStatus): void {
    this.status = status;
    this.#vm.emit("JOB_STATUS_CHANGE", { status, id: this.id });
  }
}
