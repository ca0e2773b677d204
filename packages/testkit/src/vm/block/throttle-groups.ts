/**
 * Throttle groups by id, as `object-add qom-type=throttle-group` creates them. The block model only asks
 * whether one exists and counts the throttle nodes using it; whoever implements `object-add`/`object-del`
 * calls {@link ThrottleGroups.define} and {@link ThrottleGroups.remove}, so block depends on no registry.
 */
import type { JsonObject } from "../../types.ts";
import type { VmApi } from "../types.ts";

export class ThrottleGroups {
  readonly #groups = new Map<string, { limits: JsonObject; users: number }>();

  constructor(_vm: VmApi) {}

  /** A new group (object-add). */
  define(id: string, limits: JsonObject = {}): void {
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
