/**
 * `query-blockstats`: I/O statistics per device drive (default) or per node (`query-nodes`). No guest does I/O
 * on the fake, so every counter is zero; what is modelled is the shape QEMU 7.2 gives each entry: the `file`
 * child's statistics as `parent`, a file node's `driver-specific` discard counters, and accounting flags that
 * are on for a device's BlockBackend and off for a node.
 */
import type { JsonObject } from "../../types.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi } from "../types.ts";
import { Block } from "./block.ts";
import type { BlockNode } from "./node.ts";

function zeroStats(backend: boolean): JsonObject {
  return {
    unmap_operations: 0,
    unmap_merged: 0,
    flush_total_time_ns: 0,
    wr_highest_offset: 0,
    wr_total_time_ns: 0,
    failed_wr_operations: 0,
    failed_rd_operations: 0,
    wr_merged: 0,
    wr_bytes: 0,
    timed_stats: [],
    failed_unmap_operations: 0,
    failed_flush_operations: 0,
    account_invalid: backend,
    rd_total_time_ns: 0,
    invalid_unmap_operations: 0,
    flush_operations: 0,
    wr_operations: 0,
    unmap_bytes: 0,
    rd_merged: 0,
    rd_bytes: 0,
    unmap_total_time_ns: 0,
    invalid_flush_operations: 0,
    account_failed: backend,
    rd_operations: 0,
    invalid_wr_operations: 0,
    invalid_rd_operations: 0,
  };
}

/** One node's BlockStats, its file child's nested as `parent` (QEMU's name for it). */
function nodeStats(node: BlockNode, backend: boolean): JsonObject {
  const stats: JsonObject = {};
  if (node.file !== undefined) stats.parent = nodeStats(node.file, false);
  stats.stats = zeroStats(backend);
  stats["node-name"] = node.name;
  if (node.driver === "file") {
    stats["driver-specific"] = {
      "discard-bytes-ok": 0,
      "discard-nb-ok": 0,
      driver: "file",
      "discard-nb-failed": 0,
    };
  }
  return stats;
}

export class BlockStats {
  static readonly provides: SubsystemProvides = PROVIDES.blockStats;

  constructor(vm: VmApi) {
    vm.command("query-blockstats", (args) => {
      const block = vm.get(Block);
      if (args["query-nodes"] === true) return block.nodes().map((node) => nodeStats(node, false));
      return block.attachedNodes().map((node) => {
        const { stats, ...rest } = nodeStats(node, true);
        const entry: JsonObject = { device: node.attachment?.device ?? "" };
        if (rest.parent !== undefined) entry.parent = rest.parent;
        entry.stats = stats ?? null;
        entry["node-name"] = node.name;
        if (rest["driver-specific"] !== undefined) entry["driver-specific"] = rest["driver-specific"];
        if (node.attachment?.qdev !== undefined) entry.qdev = node.attachment.qdev;
        return entry;
      });
    });
  }
}
