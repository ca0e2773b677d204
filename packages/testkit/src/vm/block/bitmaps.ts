/**
 * Dirty bitmaps (`block-dirty-bitmap-add`/`-remove`/`-enable`/`-disable`) and the `transaction` command with
 * the bitmap actions libvirt sends around a block copy. A transaction drains the block layer: every job that is
 * not paused by the user pauses and resumes inside it (JOB_STATUS_CHANGE standby/ready or paused/running before
 * the reply), even with no actions, as QEMU 7.2 does.
 */
import { QMPCommandError } from "../../errors.ts";
import type { JsonObject } from "../../types.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi, VmCommandContext } from "../types.ts";
import { Block } from "./block.ts";
import { Jobs } from "./jobs.ts";
import type { BlockNode } from "./node.ts";

const DEFAULT_GRANULARITY = 65536;

type Action = () => void;

export class Bitmaps {
  static readonly provides: SubsystemProvides = PROVIDES.bitmaps;

  readonly #vm: VmApi;

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("block-dirty-bitmap-add", (args) => this.#add(args)());
    vm.command("block-dirty-bitmap-remove", (args) => this.#remove(args)());
    vm.command("block-dirty-bitmap-enable", (args) => this.#setRecording(args, true)());
    vm.command("block-dirty-bitmap-disable", (args) => this.#setRecording(args, false)());
    vm.command("transaction", (args, ctx) => this.#transaction(args, ctx));
  }

  #node(args: JsonObject): BlockNode {
    const name = String(args.node);
    return this.#vm.get(Block).lookup(name, name);
  }

  // Each check runs now; the returned action applies the change (so a transaction checks all before applying).
  #add(args: JsonObject): Action {
    const node = this.#node(args);
    const name = String(args.name);
    if (node.bitmaps.some((b) => b.name === name))
      throw new QMPCommandError("GenericError", `Bitmap already exists: ${name}`);
    const granularity = typeof args.granularity === "number" ? args.granularity : DEFAULT_GRANULARITY;
    const bitmap = {
      name,
      recording: args.disabled !== true,
      persistent: args.persistent === true,
      granularity,
    };
    return () => node.bitmaps.unshift(bitmap);
  }

  #find(args: JsonObject): { node: BlockNode; index: number } {
    const node = this.#node(args);
    const index = node.bitmaps.findIndex((b) => b.name === String(args.name));
    if (index < 0) throw new QMPCommandError("GenericError", `Dirty bitmap '${String(args.name)}' not found`);
    return { node, index };
  }

  #remove(args: JsonObject): Action {
    const { node, index } = this.#find(args);
    const bitmap = node.bitmaps[index];
    return () => {
      const at = bitmap === undefined ? -1 : node.bitmaps.indexOf(bitmap);
      if (at >= 0) node.bitmaps.splice(at, 1);
    };
  }

  #setRecording(args: JsonObject, recording: boolean): Action {
    const { node, index } = this.#find(args);
    const bitmap = node.bitmaps[index];
    return () => {
      if (bitmap !== undefined) bitmap.recording = recording;
    };
  }

  #transaction(args: JsonObject, ctx: VmCommandContext): void {
    const actions = (Array.isArray(args.actions) ? args.actions : []) as JsonObject[];
    for (const job of this.#vm.get(Jobs).list()) job.drain();
    const prepared: Action[] = [];
    for (const action of actions) {
      const data = (action.data ?? {}) as JsonObject;
      switch (action.type) {
        case "block-dirty-bitmap-add":
          prepared.push(this.#add(data));
          break;
        case "block-dirty-bitmap-remove":
          prepared.push(this.#remove(data));
          break;
        case "block-dirty-bitmap-enable":
          prepared.push(this.#setRecording(data, true));
          break;
        case "block-dirty-bitmap-disable":
          prepared.push(this.#setRecording(data, false));
          break;
        default:
          this.#vm.unimplemented(ctx, `transaction action '${String(action.type)}'`);
      }
    }
    for (const apply of prepared) apply();
  }
}
