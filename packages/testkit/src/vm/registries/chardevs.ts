/**
 * Character devices (`chardev-add`/`chardev-remove`, `query-chardev`), as QEMU 7.2 and 10.0 answer them
 * (recorded in fixtures/flows/qemu-*\/q35/registries.jsonl and by hand):
 * - the monitors' own chardevs (`compat_monitor0`, …) are listed, open, and "busy" when asked to go;
 * - a duplicate is "Chardev with id 'x' already exists", a missing one "Chardev 'x' not found";
 * - `query-chardev` lists the `/chardevs` container's hash table backwards (each entry is prepended), with the
 *   filename each backend gives itself: its type name (`null`, `file`, `ringbuf`), `pty:/dev/pts/N`, or for a
 *   listening socket `disconnected:unix:PATH,server=on` until a client connects.
 *
 * Modelled backends: null, file (created or truncated, never written), ringbuf, a listening unix socket (bound,
 * so a client can connect; nothing is ever sent), and a pty the emulator opened. The others (a connecting
 * socket, inet, stdio, serial, spice, …) are refused loudly as not implemented.
 */
import type { UnixSocketListener } from "bun";
import { QMPCommandError } from "../../errors.ts";
import { closeSync, openSync, unlinkSync } from "../../lazy-node.ts";
import { ghashOrder, inQdictOrder } from "../../qjson.ts";
import { errnoText } from "../../strerror.ts";
import type { JsonObject } from "../../types.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi, VmCommandContext } from "../types.ts";

/** One chardev a client (or the command line) created. */
export interface Chardev {
  readonly label: string;
  readonly type: string;
  /** Whether a frontend (a serial port, a monitor) has it open. */
  frontendOpen: boolean;
  filename(): string;
  close(): void;
}

/** The chardev registry. */
export class Chardevs {
  static readonly provides: SubsystemProvides = PROVIDES.chardevs;

  readonly #vm: VmApi;
  readonly #chardevs = new Map<string, Chardev>();

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("chardev-add", (args, ctx) => this.add(args, ctx));
    vm.command("chardev-remove", (args) => this.remove(String(args.id)));
    vm.command("query-chardev", () => this.#query());
    const backends = vm.machine.profile?.reply("query-chardev-backends");
    if (backends?.kind === "return") vm.command("query-chardev-backends", () => backends.value);
  }

  /** The chardev with this id, for a frontend's `chardev` property. */
  get(label: string): Chardev | undefined {
    return this.#chardevs.get(label);
  }

  add(args: JsonObject, ctx: VmCommandContext): JsonObject {
    const label = String(args.id);
    const backend = args.backend as { type: string; data: JsonObject };
    if (this.#chardevs.has(label) || this.#vm.monitors().some((m) => m.label === label)) {
      throw new QMPCommandError("GenericError", `Chardev with id '${label}' already exists`);
    }
    const chardev = this.#open(label, backend, args["x-qmpkit-pty"], ctx);
    this.#chardevs.set(label, chardev);
    return chardev.type === "pty" ? { pty: chardev.filename().slice(4) } : {};
  }

  remove(label: string): void {
    if (this.#vm.monitors().some((m) => m.label === label)) {
      throw new QMPCommandError("GenericError", `Chardev '${label}' is busy`);
    }
    const chardev = this.#chardevs.get(label);
    if (chardev === undefined) throw new QMPCommandError("GenericError", `Chardev '${label}' not found`);
    if (chardev.frontendOpen) throw new QMPCommandError("GenericError", `Chardev '${label}' is busy`);
    chardev.close();
    this.#chardevs.delete(label);
  }

  /** Closes every listening socket (the fake is closing). */
  closeAll(): void {
    for (const chardev of this.#chardevs.values()) chardev.close();
  }

  #open(
    label: string,
    backend: { type: string; data: JsonObject },
    pty: unknown,
    ctx: VmCommandContext,
  ): Chardev {
    const { type, data } = backend;
    const simple = (filename: string, close = () => {}): Chardev => ({
      label,
      type,
      frontendOpen: false,
      filename: () => filename,
      close,
    });
    if (type === "null" || type === "ringbuf") return simple(type);
    if (type === "file") {
      const path = String(data.out);
      try {
        closeSync(openSync(path, data.append === true ? "a" : "w", 0o666));
      } catch (error) {
        throw new QMPCommandError("GenericError", `Could not open '${path}': ${errnoText(error)}`);
      }
      return simple("file");
    }
    if (type === "pty" && typeof pty === "string") return simple(`pty:${pty}`);
    if (type === "socket") {
      const addr = data.addr as { type: string; data: JsonObject } | undefined;
      if (addr?.type === "unix" && data.server === true) {
        const path = String(addr.data.path);
        // The emulator binds the command line's sockets itself before the VM exists (client 0 is the start-up).
        if (ctx.client === 0) return simple(`disconnected:unix:${path},server=on`);
        return this.#listen(label, path);
      }
    }
    return this.#vm.unimplemented(ctx, `chardev-add of a ${describe(backend)} chardev`);
  }

  #listen(label: string, path: string): Chardev {
    // QEMU replaces a stale socket file before binding.
    try {
      unlinkSync(path);
    } catch {}
    let listener: UnixSocketListener<undefined>;
    let clients = 0;
    try {
      listener = Bun.listen({
        unix: path,
        socket: {
          open: () => void clients++,
          close: () => void clients--,
          data: () => {},
        },
      });
    } catch (error) {
      throw new QMPCommandError("GenericError", `Failed to bind socket to ${path}: ${errnoText(error)}`);
    }
    return {
      label,
      type: "socket",
      frontendOpen: false,
      filename: () => `${clients > 0 ? "" : "disconnected:"}unix:${path},server=on`,
      close: () => {
        listener.stop(true);
        try {
          unlinkSync(path);
        } catch {}
      },
    };
  }

  #query(): unknown {
    const entries = new Map<string, { label: string; filename: string; "frontend-open": boolean }>();
    for (const monitor of this.#vm.monitors()) {
      entries.set(monitor.label, { label: monitor.label, filename: monitor.filename, "frontend-open": true });
    }
    for (const chardev of this.#chardevs.values()) {
      entries.set(chardev.label, {
        label: chardev.label,
        filename: chardev.filename(),
        "frontend-open": chardev.frontendOpen,
      });
    }
    const order = ghashOrder([...entries.keys()]).toReversed();
    return inQdictOrder(order.map((label) => entries.get(label)));
  }
}

function describe(backend: { type: string; data: JsonObject }): string {
  if (backend.type !== "socket") return backend.type;
  const addr = backend.data.addr as { type?: string } | undefined;
  return `${addr?.type ?? "?"} ${backend.data.server === true ? "server" : "client"} socket`;
}
