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

  readonly #vm: VmApi;
  readonly #types = new Map<string, ObjectType>();
  /** id → qom-type, in creation order. */
  readonly #objects = new Map<string, string>();
  #rootExists: boolean | undefined;

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("object-add", (args, ctx) => {
      const id = String(args.id);
      const qomType = String(args["qom-type"]);
      if (!IDENTIFIER.test(id))
        throw new QMPCommandError("GenericError", "Parameter 'id' expects an identifier");
      const type = this.#types.get(qomType);
      if (type === undefined) vm.unimplemented(ctx, `object-add of qom-type '${qomType}'`);
      // QEMU adds the object to /objects before completing it: a secret without data still creates the container.
      this.touchRoot();
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
      this.touchRoot();
      const id = String(args.id);
      const qomType = this.#objects.get(id);
      if (qomType === undefined) throw new QMPCommandError("GenericError", `object '${id}' not found`);
      if (this.#types.get(qomType)?.remove(id) === false)
        throw new QMPCommandError("GenericError", `object '${id}' is in use, can not be deleted`);
      this.#objects.delete(id);
    });
  }

  /**
   * Whether QOM's /objects container exists. QEMU 10.0 makes it at start. QEMU 7.2 makes it on first use: at start
   * only for a machine that puts an object there (q35's RAM backend), later for the first object-add past its id
   * check, any object-del, and the queries that walk it ({@link touchRoot}): query-iothreads, and query-memdev and
   * query-pr-managers, which the fake does not answer.
   */
  rootExists(): boolean {
    this.#rootExists ??=
      this.#vm.machine.qemuVersion !== "7.2" ||
      (this.#vm.machine.profile
        ?.qomTree()
        .get("/objects")
        ?.properties.some((p) => p.type.startsWith("child<")) ??
        true);
    return this.#rootExists;
  }

  /** A command reached QEMU's object_get_objects_root(), which creates /objects when it is missing. */
  touchRoot(): void {
    this.#rootExists = true;
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
