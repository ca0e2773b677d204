/**
 * The commands that start jobs: blockdev-mirror, blockdev-backup, block-stream, block-commit (active) and
 * blockdev-create, each checking its nodes as QEMU 7.2 does, blocking them while it runs, and changing the graph
 * when it completes (a mirror's or commit's pivot moves the device to the new node).
 */
import { QMPCommandError } from "../../errors.ts";
import { dirname, existsSync, truncateSync, writeFileSync } from "../../lazy-node.ts";
import type { JsonObject } from "../../types.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi, VmCommandContext } from "../types.ts";
import { Block } from "./block.ts";
import type { JobBehaviour, JobType } from "./job.ts";
import { Jobs } from "./jobs.ts";
import type { BlockNode } from "./node.ts";
import { createQcow2Image } from "./qcow2.ts";

function generic(desc: string): QMPCommandError {
  return new QMPCommandError("GenericError", desc);
}

/** A node's first job blocker as QEMU's op-blocker error. */
function checkNotBusy(node: BlockNode): void {
  const blocker = node.blockers[0];
  if (blocker !== undefined)
    throw generic(`Node '${node.name}' is busy: block device is in use by block job: ${blocker}`);
}

/** Blocks `nodes` for a job of `type`; the returned function releases them. */
function block(
  type: JobType,
  roles: { filtered?: BlockNode[]; backend?: BlockNode[]; blocked: BlockNode[] },
): () => void {
  for (const node of roles.filtered ?? []) node.filterParents++;
  for (const node of roles.backend ?? []) node.jobBackends++;
  for (const node of roles.blocked) node.blockers.push(type);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    for (const node of roles.filtered ?? []) node.filterParents--;
    for (const node of roles.backend ?? []) node.jobBackends--;
    for (const node of roles.blocked) node.blockers.splice(node.blockers.indexOf(type), 1);
  };
}

export class BlockJobs {
  static readonly provides: SubsystemProvides = PROVIDES.blockJobs;

  readonly #vm: VmApi;

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("blockdev-mirror", (args, ctx) => this.#mirror(args, ctx));
    vm.command("blockdev-backup", (args, ctx) => this.#backup(args, ctx));
    vm.command("block-stream", (args, ctx) => this.#stream(args, ctx));
    vm.command("block-commit", (args, ctx) => this.#commit(args, ctx));
    vm.command("blockdev-create", (args, ctx) => this.#create(args, ctx));
  }

  get #block(): Block {
    return this.#vm.get(Block);
  }

  get #jobs(): Jobs {
    return this.#vm.get(Jobs);
  }

  /** QEMU's qmp_get_root_bs: the node, which must have no node above it. */
  #root(name: string): BlockNode {
    const node = this.#block.lookup(name, name);
    if (!node.isRoot()) throw generic("Need a root block node");
    return node;
  }

  /**
   * A block job's id (QEMU falls back to the device's BlockBackend name, "" for a node, which it then refuses)
   * and common options. A negative speed is found once the job exists: created, then null, then the error.
   */
  #common(
    args: JsonObject,
    device: BlockNode,
  ): { id: string; speed: number; autoFinalize: boolean; autoDismiss: boolean } {
    const id = this.#jobs.checkId(args["job-id"] ?? device.attachment?.device ?? "");
    const speed = typeof args.speed === "number" ? args.speed : 0;
    if (speed < 0) {
      this.#vm.emit("JOB_STATUS_CHANGE", { status: "created", id });
      this.#vm.emit("JOB_STATUS_CHANGE", { status: "null", id });
      throw generic("Parameter 'speed' expects a non-negative value");
    }
    return {
      id,
      speed,
      autoFinalize: args["auto-finalize"] !== false,
      autoDismiss: args["auto-dismiss"] !== false,
    };
  }

  #mirror(args: JsonObject, ctx: VmCommandContext): void {
    const source = this.#root(String(args.device));
    const target = this.#root(String(args.target));
    if (args.sync !== "full") this.#vm.unimplemented(ctx, `blockdev-mirror sync '${String(args.sync)}'`);
    const common = this.#common(args, source);
    const id = common.id;
    if (target.readOnly) {
      // QEMU creates the job before it finds out, and takes it down again.
      this.#vm.emit("JOB_STATUS_CHANGE", { status: "created", id });
      this.#vm.emit("JOB_STATUS_CHANGE", { status: "null", id });
      throw generic("Block node is read-only");
    }
    const blocked = block("mirror", { filtered: [source], backend: [target], blocked: [source] });
    // The mirror tracks the guest's writes in an unnamed bitmap on its source, listed while it runs.
    const tracking = { name: undefined, recording: true, persistent: false, granularity: 65536 };
    source.bitmaps.unshift(tracking);
    const release = () => {
      blocked();
      const at = source.bitmaps.indexOf(tracking);
      if (at >= 0) source.bitmaps.splice(at, 1);
    };
    const behaviour: JobBehaviour = {
      waitsForComplete: true,
      instant: source.isVirtual() && target.isVirtual(),
      failure: () =>
        source.length() === target.length() ? undefined : "Source and target image have different sizes",
      commit: (pivot) => {
        if (pivot) this.#block.moveAttachment(source, target);
      },
      release,
    };
    this.#jobs.start({ type: "mirror", len: source.length(), ...common, behaviour }, ctx);
  }

  #backup(args: JsonObject, ctx: VmCommandContext): void {
    const device = String(args.device);
    const source = this.#block.lookup(device, device);
    checkNotBusy(source);
    const targetName = String(args.target);
    const target = this.#block.lookup(targetName, targetName);
    checkNotBusy(target);
    if (args.sync !== "full") this.#vm.unimplemented(ctx, `blockdev-backup sync '${String(args.sync)}'`);
    const common = this.#common(args, source);
    if (source.length() !== target.length()) throw generic("Source and target image have different sizes");
    // The copy-before-write filter holds the source (blockdev-del: "in use"); the job blocks the target ("busy").
    const release = block("backup", { filtered: [source], blocked: [target] });
    const behaviour: JobBehaviour = {
      waitsForComplete: false,
      instant: source.isVirtual() && target.isVirtual(),
      release,
    };
    this.#jobs.start({ type: "backup", len: source.length(), ...common, behaviour }, ctx);
  }

  #stream(args: JsonObject, ctx: VmCommandContext): void {
    const device = String(args.device);
    const top = this.#block.lookup(device, device);
    checkNotBusy(top);
    if (args.base !== undefined || args["base-node"] !== undefined || args.bottom !== undefined)
      this.#vm.unimplemented(ctx, "block-stream with a base");
    const common = this.#common(args, top);
    const chain: BlockNode[] = [];
    for (let node = top.backing; node !== undefined; node = node.backing) chain.push(node);
    const release = block("stream", { blocked: [top, ...chain] });
    const behaviour: JobBehaviour = {
      waitsForComplete: false,
      instant: [top, ...chain].every((node) => node.isVirtual()),
      commit: () => {
        // Everything below the top is now in it: the top stands alone.
        top.backing?.parents.delete(top);
        top.backing = undefined;
      },
      release,
    };
    this.#jobs.start({ type: "stream", len: top.length(), ...common, behaviour }, ctx);
  }

  #commit(args: JsonObject, ctx: VmCommandContext): void {
    const device = String(args.device);
    const top = this.#block.lookup(device, device);
    checkNotBusy(top);
    if (args.top !== undefined || args["top-node"] !== undefined || args.base !== undefined)
      this.#vm.unimplemented(
        ctx,
        "block-commit of an intermediate node (only the active commit is modelled)",
      );
    const base = top.backing;
    if (base === undefined) throw generic("cannot commit an image into itself");
    const common = this.#common(args, top);
    const release = block("commit", { filtered: [top], backend: [base], blocked: [top, base] });
    const behaviour: JobBehaviour = {
      waitsForComplete: true,
      instant: top.isVirtual() && base.isVirtual(),
      commit: (pivot) => {
        if (pivot) this.#block.moveAttachment(top, base);
      },
      release,
    };
    this.#jobs.start({ type: "commit", len: top.length(), ...common, behaviour }, ctx);
  }

  #create(args: JsonObject, ctx: VmCommandContext): void {
    const options = (args.options ?? {}) as JsonObject;
    const driver = String(options.driver);
    let work: () => string | undefined;
    if (driver === "file") {
      const path = String(options.filename);
      const size = Number(options.size ?? 0);
      work = () => createFile(path, size);
    } else if (driver === "qcow2") {
      const fileName = String(options.file);
      const file = this.#block.lookup(fileName, fileName);
      const path = file.hostPath();
      if (path === undefined)
        this.#vm.unimplemented(ctx, "blockdev-create of a qcow2 image on a node with no file");
      const image = createQcow2Image({
        size: Number(options.size),
        ...(typeof options["cluster-size"] === "number" ? { clusterSize: options["cluster-size"] } : {}),
        ...(typeof options["backing-file"] === "string" ? { backingFile: options["backing-file"] } : {}),
        ...(typeof options["backing-fmt"] === "string" ? { backingFormat: options["backing-fmt"] } : {}),
        ...(options["lazy-refcounts"] === true ? { lazyRefcounts: true } : {}),
      });
      work = () => {
        // Synchronously: the job's next event may make a client blockdev-add the image at once.
        writeFileSync(path, image);
        return undefined;
      };
    } else {
      this.#vm.unimplemented(ctx, `blockdev-create driver '${driver}'`);
    }
    const id = this.#jobs.checkId(args["job-id"]);
    const behaviour: JobBehaviour = {
      waitsForComplete: false,
      instant: false,
      failure: work,
      release: () => {},
    };
    this.#jobs.start({ id, type: "create", len: 1, autoDismiss: false, behaviour }, ctx);
  }
}

function createFile(path: string, size: number): string | undefined {
  if (!existsSync(dirname(path))) return `Could not create '${path}': No such file or directory`;
  writeFileSync(path, new Uint8Array(0));
  truncateSync(path, size);
  return undefined;
}
