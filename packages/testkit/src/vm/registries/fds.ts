/**
 * File descriptors passed over the monitor socket: `getfd`/`closefd` (named, for `fd:NAME` users) and
 * `add-fd`/`remove-fd`/`query-fdsets` (fd sets, for `/dev/fdset/N` users), with QEMU's texts (recorded in
 * fixtures/flows/qemu-*\/q35/registries.jsonl and by hand):
 * - a command that needs a descriptor and got none: "No file descriptor supplied via SCM_RIGHTS";
 * - a missing name: "File descriptor named 'x' not found"; a missing set: "... named 'fdset-id:N' not found"
 *   (with `, fd:M` when an fd was given);
 * - QEMU 7.2 keeps a removed fd listed while any QMP monitor is connected (it only marks it removed); 10.0 drops
 *   it, and the set with its last fd, at once.
 *
 * The fake cannot hold the descriptor itself: Bun reads the socket with recv(2), which lets the kernel close
 * it. The monitor notices that one came (see `MonitorSession.takeFd`), and the numbers reported here are the
 * fake's own, as a real process's would be arbitrary.
 */
import { QMPCommandError } from "../../errors.ts";
import { inQdictOrder } from "../../qjson.ts";
import type { JsonObject } from "../../types.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi, VmCommandContext } from "../types.ts";

interface SetFd {
  readonly fd: number;
  readonly opaque: string | undefined;
  removed: boolean;
}

// The first descriptor numbers a QEMU process hands out after its own (monitor, event fds, files).
const FIRST_FD = 30;

/** Named descriptors and fd sets. */
export class Fds {
  static readonly provides: SubsystemProvides = PROVIDES.fds;

  readonly #vm: VmApi;
  readonly #named = new Map<string, number>();
  readonly #sets = new Map<number, SetFd[]>();
  #nextFd = FIRST_FD;

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("getfd", (args, ctx) => {
      const fd = this.#receive(ctx);
      // QEMU closes the descriptor a name held before and keeps the new one.
      this.#named.set(String(args.fdname), fd);
    });
    vm.command("closefd", (args) => {
      const name = String(args.fdname);
      if (!this.#named.delete(name)) {
        throw new QMPCommandError("GenericError", `File descriptor named '${name}' not found`);
      }
    });
    vm.command("add-fd", (args, ctx) => this.#addFd(args, ctx));
    vm.command("remove-fd", (args) => this.#removeFd(args));
    vm.command("query-fdsets", () => this.#query());
  }

  /** Whether a descriptor was passed under this name (`fd:NAME` in a netdev, chardev or migration URI). */
  hasNamed(name: string): boolean {
    return this.#named.has(name);
  }

  #receive(ctx: VmCommandContext): number {
    if (ctx.takeFd?.() !== true) {
      throw new QMPCommandError("GenericError", "No file descriptor supplied via SCM_RIGHTS");
    }
    return this.#nextFd++;
  }

  #addFd(args: JsonObject, ctx: VmCommandContext): unknown {
    const requested = args["fdset-id"] as number | undefined;
    const fd = this.#receive(ctx);
    let id = requested;
    if (id === undefined) {
      // QEMU takes the lowest id no set has.
      id = 0;
      while (this.#sets.has(id)) id++;
    }
    const set = this.#sets.get(id) ?? [];
    set.push({ fd, opaque: args.opaque as string | undefined, removed: false });
    this.#sets.set(id, set);
    return inQdictOrder({ "fdset-id": id, fd });
  }

  #removeFd(args: JsonObject): void {
    const id = args["fdset-id"] as number;
    const fd = args.fd as number | undefined;
    const set = this.#sets.get(id);
    const matching = set?.filter((entry) => fd === undefined || entry.fd === fd) ?? [];
    if (matching.length === 0) {
      const name = fd === undefined ? `fdset-id:${id}` : `fdset-id:${id}, fd:${fd}`;
      throw new QMPCommandError("GenericError", `File descriptor named '${name}' not found`);
    }
    for (const entry of matching) entry.removed = true;
    if (this.#vm.machine.qemuVersion === "7.2") return;
    const left = (set ?? []).filter((entry) => !entry.removed);
    if (left.length === 0) this.#sets.delete(id);
    else this.#sets.set(id, left);
  }

  #query(): unknown {
    const ids = [...this.#sets.keys()].sort((a, b) => a - b);
    return inQdictOrder(
      ids.map((id) => ({
        "fdset-id": id,
        fds: (this.#sets.get(id) ?? []).map((entry) =>
          entry.opaque === undefined ? { fd: entry.fd } : { fd: entry.fd, opaque: entry.opaque },
        ),
      })),
    );
  }
}
