/**
 * The block layer: the graph of nodes `blockdev-add` builds (null-co, file, raw, qcow2, throttle), its listings
 * (`query-named-block-nodes`, `query-block`), `block_resize` and `blockdev-del` with QEMU 7.2's refusals. Devices
 * attach their drives through {@link Block.attach} and jobs block nodes through the node's own counters, so this
 * file imports neither.
 */
import { QMPCommandError } from "../../errors.ts";
import {
  closeSync,
  dirname,
  existsSync,
  isAbsolute,
  join,
  openSync,
  readSync,
  truncateSync,
  writeSync,
} from "../../lazy-node.ts";
import type { JsonObject } from "../../types.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi, VmCommandContext } from "../types.ts";
import { type BlockAttachment, type BlockDriverName, BlockNode, NULL_CO_DEFAULT_SIZE } from "./node.ts";
import { l1EntriesFor, parseQcow2Header } from "./qcow2.ts";
import { ThrottleGroups } from "./throttle-groups.ts";

const MODELLED_DRIVERS = new Set<string>(["file", "null-co", "raw", "qcow2", "throttle"]);
const NODE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,30}$/;
const HEADER_BYTES = 65536;

function generic(desc: string): QMPCommandError {
  return new QMPCommandError("GenericError", desc);
}

export class Block {
  static readonly provides: SubsystemProvides = PROVIDES.block;

  /** Every node, oldest first (QEMU lists them newest first). */
  readonly #nodes = new Map<string, BlockNode>();
  /** Devices' drives in attach order, as query-block lists them. */
  readonly #attached: BlockNode[] = [];
  #implicitCount = 0;
  readonly #vm: VmApi;

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("blockdev-add", (args, ctx) => this.add(args, ctx));
    vm.command("blockdev-del", (args) => this.delete(String(args["node-name"])));
    const since10 = vm.machine.qemuVersion !== "7.2";
    vm.command("query-named-block-nodes", (args) =>
      [...this.#nodes.values()].reverse().map((node) => node.deviceInfo(args.flat === true, since10)),
    );
    vm.command("query-block", () => this.#attached.map((node) => queryBlockEntry(node, since10)));
    vm.command("block_resize", (args) => this.resize(args));
  }

  /** The node called `name`, if any. */
  node(name: string): BlockNode | undefined {
    return this.#nodes.get(name);
  }

  /** Every node, oldest first. */
  nodes(): BlockNode[] {
    return [...this.#nodes.values()];
  }

  /** The nodes devices use as their drives, in attach order. */
  attachedNodes(): BlockNode[] {
    return [...this.#attached];
  }

  /**
   * QEMU's bdrv_lookup_bs(device, node): a BlockBackend (`-drive id=`) by `device`, else a node by `nodeName`,
   * or its "Cannot find device=… nor node-name=…" error.
   */
  lookup(device: string | undefined, nodeName: string | undefined): BlockNode {
    if (device !== undefined) {
      const attached = this.#attached.find((node) => node.attachment?.device === device);
      if (attached !== undefined) return attached;
    }
    const node = nodeName === undefined ? undefined : this.#nodes.get(nodeName);
    if (node !== undefined) return node;
    throw generic(`Cannot find device='${device ?? ""}' nor node-name='${nodeName ?? ""}'`);
  }

  /**
   * Makes `nodeName` the drive of a device (device_add's `drive` property, `-device …,drive=`). `property` names
   * the property in QEMU's errors, e.g. `virtio-blk-device.drive`. Throws QEMU's error when the node is missing
   * or already written to by another device or node.
   */
  attach(nodeName: string, attachment: BlockAttachment, property: string): BlockNode {
    const drive = this.#attached.find((n) => n.attachment?.device === nodeName && nodeName !== "");
    if (drive?.attachment !== undefined && drive.attachment.qdev === undefined) {
      // A -drive if=none waiting for its device: the device takes it over.
      drive.attachment = {
        device: nodeName,
        qdev: attachment.qdev,
        removable: attachment.removable ?? false,
      };
      return drive;
    }
    // A named BlockBackend takes one device; only a node name gets a BlockBackend of its own per device.
    if (drive !== undefined) throw generic(`Drive '${nodeName}' is already in use by another device`);
    const node = this.#nodes.get(nodeName);
    if (node === undefined) throw generic(`Property '${property}' can't find value '${nodeName}'`);
    const holder =
      node.attachment !== undefined
        ? `block device '${node.attachment.qdev}' (uses node '${node.name}' as 'root' child)`
        : firstParent(node);
    if (holder !== undefined) {
      throw generic(
        `Permission conflict on node '${node.name}': permissions 'write' are both required by ${holder} and ` +
          `unshared by block device '${attachment.qdev}' (uses node '${node.name}' as 'root' child).`,
      );
    }
    node.attachment = attachment;
    this.#attached.push(node);
    return node;
  }

  /**
   * The device at `qdev` is gone (device_del, unplug): a `-blockdev` node is a plain node again; a `-drive` goes
   * with its device, as QEMU deletes legacy drives automatically.
   */
  detach(qdev: string): void {
    const index = this.#attached.findIndex((node) => node.attachment?.qdev === qdev);
    if (index < 0) return;
    const [node] = this.#attached.splice(index, 1);
    if (node === undefined) return;
    const legacy = node.attachment?.device !== "";
    node.attachment = undefined;
    if (legacy && node.implicit) this.#remove(node);
  }

  /**
   * `-drive file=…,if=none,id=…[,format=…][,readonly=on]` (the emulator's command line, HMP drive_add): a named
   * BlockBackend over nodes QEMU names itself (`#blockNNN`), the format probed when not given, a qcow2's backing
   * chain opened from its header. `device_add …,drive=ID` then attaches it.
   */
  addDrive(spec: { id: string; file: string; format?: string | undefined; readOnly?: boolean }): BlockNode {
    if (this.#attached.some((node) => node.attachment?.device === spec.id))
      throw generic(`Duplicate ID '${spec.id}' for drive`);
    const node = this.#openImage(spec.file, spec.format, spec.readOnly === true);
    node.attachment = { device: spec.id, removable: true };
    this.#attached.push(node);
    return node;
  }

  /** HMP drive_del: a drive no device uses goes away with its nodes. */
  deleteDrive(id: string): void {
    const node = this.#attached.find((n) => n.attachment?.device === id && id !== "");
    if (node === undefined) throw generic(`Device '${id}' not found`);
    if (node.attachment?.qdev !== undefined) {
      throw generic("qmpkit fake: drive_del of a drive a device still uses is not implemented");
    }
    this.#attached.splice(this.#attached.indexOf(node), 1);
    node.attachment = undefined;
    if (node.implicit) this.#remove(node);
  }

  /** An image file opened the way QEMU opens one by name: implicit protocol and format nodes. */
  #openImage(path: string, format: string | undefined, readOnly: boolean): BlockNode {
    if (!existsSync(path)) throw generic(`Could not open '${path}': No such file or directory`);
    const ro = readOnly ? { "read-only": true } : {};
    const file = this.#implicit({ driver: "file", options: { driver: "file", filename: path, ...ro }, path });
    const header = parseQcow2Header(readHead(path));
    const driver = format ?? (header === undefined ? "raw" : "qcow2");
    if (driver === "raw") return this.#implicit({ driver, options: { driver, ...ro }, file });
    if (driver !== "qcow2")
      throw generic(`qmpkit fake: opening a '${driver}' image by name is not implemented`);
    if (header === undefined) throw generic("Image is not in qcow2 format");
    const options = { driver, ...ro };
    const node = this.#implicit({ driver, options, file, header, size: header.virtualSize });
    this.#linkBacking(node);
    return node;
  }

  /** A qcow2's backing file as its header names it (relative to the image), opened read-only. */
  #openBacking(image: string, name: string | undefined, format: string | undefined): BlockNode | undefined {
    if (name === undefined) return undefined;
    const path = isAbsolute(name) ? name : join(dirname(image), name);
    try {
      return this.#openImage(path, format, true);
    } catch (error) {
      if (error instanceof QMPCommandError) throw generic(`Could not open backing file: ${error.desc}`);
      throw error;
    }
  }

  #implicit(init: Omit<ConstructorParameters<typeof BlockNode>[0], "name" | "implicit">): BlockNode {
    // QEMU names a node "#block" + a counter + two random digits; the fake's digits are fixed per counter.
    const counter = this.#implicitCount++;
    const name = `#block${counter}${String((counter * 37 + 11) % 100).padStart(2, "0")}`;
    const node = new BlockNode({ ...init, name, implicit: true });
    this.#nodes.set(name, node);
    return node;
  }

  /** Takes a node out of the graph, and with it the implicit children nothing else uses. */
  #remove(node: BlockNode): void {
    this.#nodes.delete(node.name);
    if (node.throttleGroup !== undefined) this.#vm.get(ThrottleGroups).use(node.throttleGroup, -1);
    for (const child of [node.file, node.backing]) {
      if (child === undefined) continue;
      child.parents.delete(node);
      if (child.implicit && child.isRoot() && child.attachment === undefined) this.#remove(child);
    }
  }

  /** Moves a device from one node to another (a mirror's or commit's pivot). */
  moveAttachment(from: BlockNode, to: BlockNode): void {
    if (from.attachment === undefined) return;
    to.attachment = from.attachment;
    from.attachment = undefined;
    const index = this.#attached.indexOf(from);
    if (index >= 0) this.#attached[index] = to;
  }

  async add(args: JsonObject, ctx: VmCommandContext): Promise<void> {
    const name = args["node-name"];
    if (typeof name !== "string") throw generic("'node-name' must be specified for the root node");
    const driver = String(args.driver);
    if (!MODELLED_DRIVERS.has(driver)) this.#vm.unimplemented(ctx, `blockdev-add driver '${driver}'`);
    if (!NODE_NAME.test(name)) throw generic(`Invalid node-name: '${name}'`);
    if (this.#nodes.has(name)) throw generic(`Duplicate nodes with node-name='${name}'`);
    const node = await this.#open(name, driver as BlockDriverName, args, ctx);
    this.#nodes.set(name, node);
    if (node.driver === "qcow2" && args.backing === undefined) this.#linkBacking(node);
  }

  /**
   * Opens the backing chain a qcow2's header names, as QEMU does when `backing` is not given: after the node
   * itself has its name, so the backing nodes list before it (newest first). A failure takes the node back out.
   */
  #linkBacking(node: BlockNode): void {
    const path = node.hostPath();
    if (path === undefined || node.header?.backingFile === undefined) return;
    try {
      node.backing = this.#openBacking(path, node.header.backingFile, node.header.backingFormat);
      node.backing?.parents.add(node);
    } catch (error) {
      this.#remove(node);
      throw error;
    }
  }

  async #open(
    name: string,
    driver: BlockDriverName,
    args: JsonObject,
    ctx: VmCommandContext,
  ): Promise<BlockNode> {
    switch (driver) {
      case "null-co":
        return new BlockNode({
          name,
          driver,
          options: args,
          size: typeof args.size === "number" ? args.size : NULL_CO_DEFAULT_SIZE,
        });
      case "file": {
        const path = String(args.filename);
        if (!existsSync(path)) throw generic(`Could not open '${path}': No such file or directory`);
        return new BlockNode({ name, driver, options: args, path });
      }
      case "throttle": {
        const group = String(args["throttle-group"]);
        const groups = this.#vm.get(ThrottleGroups);
        if (!groups.has(group)) throw generic(`Throttle group '${group}' does not exist`);
        const file = this.#child(args.file, name, driver, ctx);
        groups.use(group, 1);
        return new BlockNode({ name, driver, options: args, file, throttleGroup: group });
      }
      case "raw":
        return new BlockNode({
          name,
          driver,
          options: args,
          file: this.#child(args.file, name, driver, ctx),
        });
      case "qcow2": {
        const file = this.#child(args.file, name, driver, ctx);
        const path = file.hostPath();
        const header = path === undefined ? undefined : parseQcow2Header(readHead(path));
        if (header === undefined) throw generic("Image is not in qcow2 format");
        let backing: BlockNode | undefined;
        if (typeof args.backing === "string") {
          backing = this.lookup(args.backing, args.backing);
        }
        return new BlockNode({
          name,
          driver,
          options: args,
          file,
          backing,
          header,
          size: header.virtualSize,
        });
      }
    }
  }

  /** A format or filter node's `file`: a reference to an existing node that nothing else writes to. */
  #child(ref: unknown, parentName: string, parentDriver: string, ctx: VmCommandContext): BlockNode {
    if (typeof ref !== "string") this.#vm.unimplemented(ctx, "an inline (object) block node reference");
    const child = this.lookup(ref, ref);
    const holder = firstParent(child);
    if (holder !== undefined && parentDriver === "qcow2") {
      throw generic(
        `Permission conflict on node '${child.name}': permissions 'write, resize' are both required by ` +
          `${holder} and unshared by node '${parentName}' (uses node '${child.name}' as 'file' child).`,
      );
    }
    return child;
  }

  /** blockdev-del, with QEMU's checks in QEMU's order. */
  delete(name: string): void {
    const node = this.#nodes.get(name);
    if (node === undefined) throw generic(`Failed to find node with node-name='${name}'`);
    if (node.attachment !== undefined || node.jobBackends > 0) throw generic(`Node ${name} is in use`);
    const blocker = node.blockers[0];
    if (blocker !== undefined)
      throw generic(`Node '${name}' is busy: block device is in use by block job: ${blocker}`);
    if (node.implicit) throw generic(`Node ${name} is not owned by the monitor`);
    if (!node.isRoot()) throw generic(`Block device ${name} is in use`);
    this.#remove(node);
  }

  resize(args: JsonObject): void {
    const device = typeof args.device === "string" ? args.device : undefined;
    const nodeName = typeof args["node-name"] === "string" ? args["node-name"] : undefined;
    const node = this.lookup(device, nodeName);
    const size = Number(args.size);
    if (size < 0) throw generic("Parameter 'size' expects a >0 size");
    const blocker = node.blockers[0];
    if (blocker !== undefined)
      throw generic(`Node '${node.name}' is busy: block device is in use by block job: ${blocker}`);
    truncateNode(node, size);
  }
}

/** The node that uses `node` as its file or backing child, in QEMU's permission-conflict wording. */
function firstParent(node: BlockNode): string | undefined {
  for (const parent of node.parents) {
    const role = parent.file === node ? "file" : "backing";
    return `node '${parent.name}' (uses node '${node.name}' as '${role}' child)`;
  }
  return undefined;
}

function truncateNode(node: BlockNode, size: number): void {
  switch (node.driver) {
    case "file":
      truncateSync(node.path ?? "", size);
      return;
    case "raw":
    case "throttle":
      if (node.file !== undefined) truncateNode(node.file, size);
      return;
    case "qcow2":
      resizeQcow2(node, size);
      return;
    default:
      throw generic("Image format driver does not support resize");
  }
}

function resizeQcow2(node: BlockNode, size: number): void {
  const path = node.hostPath();
  const header = node.header;
  if (path === undefined || header === undefined)
    throw generic("Image format driver does not support resize");
  if (l1EntriesFor(size, header.clusterSize) > header.l1Size) {
    throw new QMPCommandError(
      "GenericError",
      "qmpkit fake: growing a qcow2 image's L1 table is not implemented",
    );
  }
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(size));
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, bytes, 0, 8, 24);
  } finally {
    closeSync(fd);
  }
  node.header = { ...header, virtualSize: size };
  node.size = size;
}

function readHead(path: string): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES);
  const fd = openSync(path, "r");
  try {
    const read = readSync(fd, bytes, 0, HEADER_BYTES, 0);
    return bytes.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

function queryBlockEntry(node: BlockNode, since10: boolean): JsonObject {
  const attachment = node.attachment;
  // A drive no device uses has no I/O status and no qdev.
  const attached = attachment?.qdev !== undefined;
  return {
    ...(attached ? { "io-status": "ok" } : {}),
    device: attachment?.device ?? "",
    locked: false,
    removable: attachment?.removable ?? false,
    inserted: node.deviceInfo(false, since10),
    ...(attached ? { qdev: attachment?.qdev } : {}),
    type: "unknown",
  };
}
