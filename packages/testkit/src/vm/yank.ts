/**
 * The yank feature: the instances QEMU can yank. With no chardev, netdev or migration of its own, QEMU 7.2 lists
 * only the monitor's chardev.
 */

import { PROVIDES } from "./provides.ts";
import type { SubsystemProvides, VmApi } from "./types.ts";

/** `query-yank` and `yank`. */
export class Yank {
  static readonly provides: SubsystemProvides = PROVIDES.yank;

  constructor(vm: VmApi) {
    vm.command("query-yank", () => [{ type: "chardev", id: "compat_monitor0" }]);
    vm.command("yank", () => ({}));
  }
}
