/**
 * The registries' QOM object types, registered with {@link Objects.defineType}: memory backends (`size`
 * required, `memory-backend-file` also `mem-path`) and iothreads, listed by `query-iothreads` in the order QEMU
 * walks the `/objects` container's GLib hash table (recorded from QEMU 7.2: b2 before a1 after tg0, a1, b2),
 * with their polling properties. A device that uses a backend or an iothread marks it with {@link
 * Iothreads.use}; object-del then says "is in use".
 */
import { QMPCommandError } from "../../errors.ts";
import { ghashOrder, inQdictOrder } from "../../qjson.ts";
import type { JsonObject } from "../../types.ts";
import { Objects } from "../objects.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi } from "../types.ts";

const IOTHREAD_DEFAULTS = { "poll-max-ns": 32768, "poll-grow": 0, "poll-shrink": 0, "aio-max-batch": 0 };
const MEMORY_BACKENDS = ["memory-backend-ram", "memory-backend-file", "memory-backend-memfd"];

// QEMU's iothread ids are host thread ids; these only need to be distinct.
let nextThreadId = 40_000;

/** Iothreads and memory backends. */
export class Iothreads {
  static readonly provides: SubsystemProvides = PROVIDES.iothreads;

  readonly #vm: VmApi;
  readonly #iothreads = new Map<string, { threadId: number; props: JsonObject }>();
  readonly #users = new Map<string, number>();

  constructor(vm: VmApi) {
    this.#vm = vm;
    const objects = vm.get(Objects);
    for (const qomType of MEMORY_BACKENDS) {
      objects.defineType(qomType, {
        add: (_id, args) => {
          if (args.size === undefined)
            throw new QMPCommandError("GenericError", "Parameter 'size' is missing");
          if (qomType === "memory-backend-file" && args["mem-path"] === undefined) {
            throw new QMPCommandError("GenericError", "Parameter 'mem-path' is missing");
          }
        },
        remove: (id) => this.#free(id),
      });
    }
    objects.defineType("iothread", {
      add: (id, args) => void this.#iothreads.set(id, { threadId: nextThreadId++, props: args }),
      remove: (id) => this.#free(id) && this.#iothreads.delete(id),
    });
    vm.command("query-iothreads", () => {
      objects.touchRoot();
      return this.#query();
    });
  }

  /** A device starts (+1) or stops (-1) using a backend or an iothread. */
  use(id: string, delta: 1 | -1): void {
    this.#users.set(id, Math.max(0, (this.#users.get(id) ?? 0) + delta));
  }

  #free(id: string): boolean {
    return (this.#users.get(id) ?? 0) === 0;
  }

  #query(): unknown {
    const objects = this.#vm.get(Objects);
    // The machine's own RAM backend is in the container from the start on q35.
    const ids = [...(this.#vm.machine.name === "q35" ? ["pc.ram"] : []), ...objects.ids()];
    const list = ghashOrder(ids)
      .filter((id) => this.#iothreads.has(id))
      .map((id) => {
        const thread = this.#iothreads.get(id) as { threadId: number; props: JsonObject };
        const set: JsonObject = {};
        for (const key of Object.keys(IOTHREAD_DEFAULTS))
          if (thread.props[key] !== undefined) set[key] = thread.props[key];
        return { id, "thread-id": thread.threadId, ...IOTHREAD_DEFAULTS, ...set };
      });
    return inQdictOrder(list);
  }
}
