/**
 * One block node (BlockDriverState): its driver, children, the file it stands for on the host, and what
 * `query-named-block-nodes` and `query-block` say about it, member for member in QEMU 7.2's order.
 */
import { dirname, isAbsolute, join, statSync } from "../../lazy-node.ts";
import type { JsonObject } from "../../types.ts";
import type { Qcow2Header } from "./qcow2.ts";

export type BlockDriverName = "file" | "null-co" | "raw" | "qcow2" | "throttle";

/** The default size of a null-co node with no `size` (1 GiB). */
export const NULL_CO_DEFAULT_SIZE = 1 << 30;

/** A dirty bitmap on a node (`block-dirty-bitmap-add`, or a mirror's own unnamed one). */
export interface DirtyBitmap {
  /** Undefined for a job's internal bitmap. */
  readonly name: string | undefined;
  recording: boolean;
  readonly persistent: boolean;
  readonly granularity: number;
}

/** The device (or other BlockBackend owner) a node is the root of. */
export interface BlockAttachment {
  /**
   * The QOM path `query-block` reports as `qdev`, e.g. `/machine/peripheral/vd0/virtio-backend`; undefined for
   * a `-drive if=none` no device uses yet.
   */
  readonly qdev?: string | undefined;
  /** The BlockBackend's name (`-drive id=`), "" for a device attached to a `-blockdev` node. */
  readonly device: string;
  /** `query-block`'s `removable` (a CD-ROM is). @default false */
  readonly removable?: boolean;
}

export class BlockNode {
  readonly name: string;
  readonly driver: BlockDriverName;
  /** The blockdev-add arguments (for the `json:{…}` filename QEMU reports). */
  readonly options: JsonObject;
  /** Named by QEMU (`#blockNNN`), not by the monitor: blockdev-del refuses it. */
  readonly implicit: boolean;
  file: BlockNode | undefined;
  backing: BlockNode | undefined;
  /** Nodes that have this one as a child (plus job filters, counted in `filterParents`). */
  readonly parents = new Set<BlockNode>();
  /** Job filter nodes above this one (mirror_top, copy-before-write, …): it is not a root meanwhile. */
  filterParents = 0;
  /** The device whose drive this node is. */
  attachment: BlockAttachment | undefined;
  /** Jobs holding a BlockBackend on this node (a mirror's target): blockdev-del says "in use". */
  jobBackends = 0;
  /** The types of the jobs blocking this node ("mirror", …): blockdev-del says "busy". */
  readonly blockers: string[] = [];
  readOnly: boolean;
  /** null-co: its size; qcow2: the header's virtual size. */
  size: number;
  readonly path: string | undefined;
  header: Qcow2Header | undefined;
  readonly throttleGroup: string | undefined;
  /** Newest first, as QEMU lists them. */
  readonly bitmaps: DirtyBitmap[] = [];

  constructor(init: {
    name: string;
    driver: BlockDriverName;
    options: JsonObject;
    implicit?: boolean;
    file?: BlockNode | undefined;
    backing?: BlockNode | undefined;
    size?: number;
    path?: string;
    header?: Qcow2Header;
    throttleGroup?: string;
  }) {
    this.name = init.name;
    this.driver = init.driver;
    this.options = init.options;
    this.implicit = init.implicit ?? false;
    this.file = init.file;
    this.backing = init.backing;
    this.size = init.size ?? 0;
    this.path = init.path;
    this.header = init.header;
    this.throttleGroup = init.throttleGroup;
    this.readOnly = init.options["read-only"] === true;
    init.file?.parents.add(this);
    init.backing?.parents.add(this);
  }

  /** The node's length as QEMU reports it: a file's bytes rounded up to whole 512-byte sectors. */
  length(): number {
    switch (this.driver) {
      case "file":
        return Math.ceil(fileSize(this.path ?? "") / 512) * 512;
      case "raw":
      case "throttle":
        return this.file?.length() ?? 0;
      default:
        return this.size;
    }
  }

  /** True when no host file lies under the node: I/O on it costs nothing (null-co). */
  isVirtual(): boolean {
    if (this.driver === "null-co") return true;
    if (this.driver === "raw" || this.driver === "throttle") return this.file?.isVirtual() ?? true;
    return false;
  }

  /** The host file under the node, if any. */
  hostPath(): string | undefined {
    return this.path ?? this.file?.hostPath();
  }

  /** A root node has no node above it (a device's or job's BlockBackend does not count). */
  isRoot(): boolean {
    return this.parents.size === 0 && this.filterParents === 0;
  }

  /** QEMU's `filename`: a path, `null-co://`, or `json:{…}` when options matter. */
  filename(): string {
    const plain = this.plainFilename();
    return plain ?? `json:${qemuJson(this.fullOptions())}`;
  }

  plainFilename(): string | undefined {
    switch (this.driver) {
      case "file":
        return this.path;
      case "null-co":
        return NULL_OPTIONS.some((key) => key in this.options) ? undefined : "null-co://";
      case "raw":
      case "qcow2":
        return this.file?.plainFilename();
      default:
        return undefined;
    }
  }

  /** The options that define the node, in the order QEMU prints them inside `json:{…}`. */
  fullOptions(): JsonObject {
    const out: JsonObject = {};
    switch (this.driver) {
      case "file":
        return { driver: "file", filename: this.path ?? "" };
      case "null-co":
        if ("read-zeroes" in this.options) out["read-zeroes"] = this.options["read-zeroes"] ?? null;
        if ("latency-ns" in this.options) out["latency-ns"] = this.options["latency-ns"] ?? null;
        out.driver = "null-co";
        if ("size" in this.options) out.size = this.options.size ?? null;
        return out;
      case "throttle":
        out["throttle-group"] = this.throttleGroup ?? "";
        out.driver = "throttle";
        out.file = this.file?.fullOptions() ?? {};
        return out;
      default:
        out.driver = this.driver;
        out.file = this.file?.fullOptions() ?? {};
        return out;
    }
  }

  /**
   * `ImageInfo`: with `nested`, the backing chain hangs below as `backing-image`. `since10` adds what QEMU 10.0
   * reports beyond 7.2 (a file node's empty `format-specific`).
   */
  imageInfo(nested: boolean, since10 = false): JsonObject {
    const info: JsonObject = {};
    if (nested && this.backing !== undefined) info["backing-image"] = this.backing.imageInfo(true, since10);
    const header = this.driver === "qcow2" ? this.header : undefined;
    if (header?.backingFormat !== undefined && header.backingFile !== undefined)
      info["backing-filename-format"] = header.backingFormat;
    info["virtual-size"] = this.length();
    info.filename = this.filename();
    if (header !== undefined) info["cluster-size"] = header.clusterSize;
    info.format = this.driver;
    info["actual-size"] = this.#actualSize();
    if (header !== undefined) {
      info["format-specific"] = {
        type: "qcow2",
        data: {
          compat: header.version >= 3 ? "1.1" : "0.10",
          "compression-type": header.compressionType,
          "lazy-refcounts": header.lazyRefcounts,
          "refcount-bits": header.refcountBits,
          corrupt: header.corrupt,
          "extended-l2": header.extendedL2,
        },
      };
    }
    if (since10 && this.driver === "file") info["format-specific"] = { type: "file", data: {} };
    if (header?.backingFile !== undefined) {
      info["full-backing-filename"] = this.#fullBackingFilename(header.backingFile);
      info["backing-filename"] = header.backingFile;
    }
    if (hasInfo(this)) info["dirty-flag"] = header?.dirty ?? false;
    return info;
  }

  /** `BlockDeviceInfo`, the element of query-named-block-nodes and query-block's `inserted`. */
  deviceInfo(flat: boolean, since10 = false): JsonObject {
    let depth = 0;
    if (!flat) for (let b = this.backing; b !== undefined; b = b.backing) depth++;
    const info: JsonObject = {
      iops_rd: 0,
      detect_zeroes:
        typeof this.options["detect-zeroes"] === "string" ? this.options["detect-zeroes"] : "off",
      // QEMU 9.2 added whether the node is active (every node is, outside a migration's handover).
      ...(since10 ? { active: true } : {}),
      image: this.imageInfo(!flat, since10),
      iops_wr: 0,
      ro: this.readOnly,
      "node-name": this.name,
      backing_file_depth: depth,
      drv: this.driver,
      iops: 0,
      bps_wr: 0,
      write_threshold: 0,
    };
    if (this.bitmaps.length > 0) {
      info["dirty-bitmaps"] = this.bitmaps.map((bitmap) => ({
        ...(bitmap.name === undefined ? {} : { name: bitmap.name }),
        recording: bitmap.recording,
        persistent: bitmap.persistent,
        busy: false,
        granularity: bitmap.granularity,
        count: 0,
      }));
    }
    const backingFile = this.driver === "qcow2" ? this.header?.backingFile : undefined;
    if (backingFile !== undefined) info.backing_file = backingFile;
    const cache = (this.options.cache ?? {}) as JsonObject;
    Object.assign(info, {
      encrypted: false,
      bps: 0,
      bps_rd: 0,
      cache: { "no-flush": cache["no-flush"] === true, direct: cache.direct === true, writeback: true },
      file: this.filename(),
    });
    return info;
  }

  #actualSize(): number {
    const path = this.hostPath();
    if (path === undefined) return 0;
    try {
      return statSync(path).blocks * 512;
    } catch {
      return 0;
    }
  }

  #fullBackingFilename(name: string): string {
    if (isAbsolute(name) || this.path === undefined) {
      const base = this.hostPath();
      return isAbsolute(name) || base === undefined ? name : join(dirname(base), name);
    }
    return join(dirname(this.path), name);
  }
}

const NULL_OPTIONS = ["size", "read-zeroes", "latency-ns"];

// Drivers whose bdrv_get_info succeeds: only they report `dirty-flag`.
function hasInfo(node: BlockNode | undefined): boolean {
  if (node?.driver === "file" || node?.driver === "qcow2") return true;
  return node?.driver === "raw" && hasInfo(node.file);
}

/** The bytes a host file has now (0 when it is gone). */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** QEMU's compact JSON as it appears in `json:` filenames: `{"a": 1, "b": {"c": true}}`. */
export function qemuJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(qemuJson).join(", ")}]`;
  const members = Object.entries(value as JsonObject).map(([k, v]) => `${JSON.stringify(k)}: ${qemuJson(v)}`);
  return `{${members.join(", ")}}`;
}
