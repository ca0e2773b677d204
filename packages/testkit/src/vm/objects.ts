/**
 * User-creatable QOM objects: `object-add`/`object-del` (and `-object` at start) with QEMU 7.2's generic
 * checks and texts. Each object type is modelled by the subsystem it belongs to, which registers it with
 * {@link Objects.defineType} (the block layer's `throttle-group`, …); a type QEMU has and no subsystem models is
 * refused loudly. Kept small on purpose: the registries subsystem grows its own types here.
 */
import { QMPCommandError } from "../errors.ts";
import type { JsonObject } from "../types.ts";
import { PROVIDES } from "./provides.ts";
import type { SubsystemProvides, VmApi } from "./types.ts";

/** What a subsystem does for objects of one QOM type. */
export interface ObjectType {
  /** Creates the object; throws QMPCommandError with QEMU's text for bad properties. */
  add(id: string, args: JsonObject): void;
  /** Deletes it; returns false while something still uses it ("is in use, can not be deleted"). */
  remove(id: string): boolean;
}

/**
 * An object refused once its properties are set (QEMU's `complete` step, e.g. a secret whose file is missing):
 * QEMU prints these without the `-object …:` location it gives to errors in the properties themselves.
 */
export class ObjectCompletionError extends QMPCommandError {}

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_.-]*$/;

export class Objects {
  static readonly provides: SubsystemProvides = PROVIDES.objects;

  readonly #types = new Map<string, ObjectType>();
  /** id → qom-type, in creation order. */
  readonly #objects = new Map<string, string>();

  constructor(vm: VmApi) {
    vm.command("object-add", (args, ctx) => {
      const id = String(args.id);
      const qomType = String(args["qom-type"]);
      if (!IDENTIFIER.test(id))
        throw new QMPCommandError("GenericError", "Parameter 'id' expects an identifier");
      const type = this.#types.get(qomType);
      if (type === undefined) vm.unimplemented(ctx, `object-add of qom-type '${qomType}'`);
      if (this.#objects.has(id)) {
        throw new QMPCommandError(
          "GenericError",
          `attempt to add duplicate property '${id}' to object (type 'container')`,
        );
      }
      type.add(id, args);
      this.#objects.set(id, qomType);
    });
    vm.command("object-del", (args) => {
      const id = String(args.id);
      const qomType = this.#objects.get(id);
      if (qomType === undefined) throw new QMPCommandError("GenericError", `object '${id}' not found`);
      if (this.#types.get(qomType)?.remove(id) === false)
        throw new QMPCommandError("GenericError", `object '${id}' is in use, can not be deleted`);
      this.#objects.delete(id);
    });
  }

  /** Models objects of `qomType` (`object-add qom-type=…`). */
  defineType(qomType: string, type: ObjectType): void {
    this.#types.set(qomType, type);
  }

  /** Every object's id, in creation order (QEMU's listings walk a hash table built in that order). */
  ids(): string[] {
    return [...this.#objects.keys()];
  }

  /** The qom-type of the object `id`, if it exists. */
  typeOf(id: string): string | undefined {
    return this.#objects.get(id);
  }
}
