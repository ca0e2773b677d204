/**
 * Throttle groups by id, as `object-add qom-type=throttle-group` (or `-object throttle-group,…`) creates them:
 * the block layer registers the type with the objects registry, checks the limits as QEMU does, and counts the
 * throttle nodes using each group so `object-del` refuses a group in use.
 */
import { QMPCommandError } from "../../errors.ts";
import type { JsonObject } from "../../types.ts";
import { Objects } from "../objects.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi } from "../types.ts";

// QEMU's THROTTLE_VALUE_MAX: every bps/iops limit lies in [0, 1e15].
const LIMIT_MAX = 1e15;

export class ThrottleGroups {
  static readonly provides: SubsystemProvides = PROVIDES.throttleGroups;

  readonly #groups = new Map<string, { limits: JsonObject; users: number }>();

  constructor(vm: VmApi) {
    vm.get(Objects).defineType("throttle-group", {
      add: (id, args) => this.define(id, (args.limits ?? {}) as JsonObject),
      remove: (id) => this.remove(id),
    });
  }

  /** A new group (object-add); refuses limits out of QEMU's range with its text. */
  define(id: string, limits: JsonObject = {}): void {
    for (const value of Object.values(limits)) {
      if (typeof value === "number" && (value < 0 || value > LIMIT_MAX))
        throw new QMPCommandError("GenericError", "bps/iops/max values must be within [0, 1000000000000000]");
    }
    this.#groups.set(id, { limits, users: 0 });
  }

  /** Removes a group (object-del); false when a throttle node still uses it. */
  remove(id: string): boolean {
    const group = this.#groups.get(id);
    if (group !== undefined && group.users > 0) return false;
    this.#groups.delete(id);
    return true;
  }

  has(id: string): boolean {
    return this.#groups.has(id);
  }

  /** A throttle node starts (+1) or stops (-1) using the group. */
  use(id: string, delta: 1 | -1): void {
    const group = this.#groups.get(id);
    if (group !== undefined) group.users += delta;
  }

  limits(id: string): JsonObject | undefined {
    return this.#groups.get(id)?.limits;
  }
}
