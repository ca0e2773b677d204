/**
 * Host network backends (`netdev_add`/`netdev_del`), as QEMU 7.2 and 10.0 answer them (recorded in
 * fixtures/flows/qemu-*\/q35/registries.jsonl and by hand):
 * - a duplicate id is "Duplicate ID 'x'" (QemuOpts' check), a missing one DeviceNotFound "Device 'x' not found";
 * - deleting a netdev a NIC still uses is allowed: QEMU detaches the NIC's peer, so the registry only records
 *   who uses what for the devices model to look at.
 *
 * Nothing is created on the host: no slirp stack, no tap interface, no socket. Whatever type the schema allows
 * is kept with its arguments, so a VM manager's bookkeeping sees what it asked for.
 */
import { QMPCommandError } from "../../errors.ts";
import type { JsonObject } from "../../types.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi } from "../types.ts";

/** One netdev. */
export interface Netdev {
  readonly id: string;
  readonly type: string;
  /** netdev_add's arguments minus `id` and `type`. */
  readonly options: JsonObject;
  /** The id of the NIC using it, if a device model attached one (`virtio-net-pci,netdev=…`). */
  peer: string | undefined;
}

/** The netdev registry. */
export class Netdevs {
  static readonly provides: SubsystemProvides = PROVIDES.netdevs;

  readonly #netdevs = new Map<string, Netdev>();

  constructor(vm: VmApi) {
    vm.command("netdev_add", (args) => this.add(args));
    vm.command("netdev_del", (args) => this.remove(String(args.id)));
  }

  /** The netdev with this id, for a NIC's `netdev` property. */
  get(id: string): Netdev | undefined {
    return this.#netdevs.get(id);
  }

  /** Every netdev, in creation order. */
  list(): Netdev[] {
    return [...this.#netdevs.values()];
  }

  add(args: JsonObject): void {
    const { id, type, ...options } = args as JsonObject & { id: string; type: string };
    if (this.#netdevs.has(id)) throw new QMPCommandError("GenericError", `Duplicate ID '${id}'`);
    this.#netdevs.set(id, { id, type, options, peer: undefined });
  }

  remove(id: string): void {
    if (!this.#netdevs.delete(id)) throw new QMPCommandError("DeviceNotFound", `Device '${id}' not found`);
  }
}
