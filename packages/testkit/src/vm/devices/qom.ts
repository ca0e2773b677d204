/**
 * The live QOM tree behind `qom-list`, `qom-get` and `qom-set`: the machine's objects as recorded from QEMU (every
 * property value of the profile's tree), the `/machine/peripheral` and `/machine/peripheral-anon` containers whose
 * children come and go, and the subtrees of the devices mounted there. QEMU's error texts throughout: a path that
 * resolves to nothing is DeviceNotFound, a missing property names the object's type.
 */
import { QMPCommandError } from "../../errors.ts";
import type { QomNode } from "../../profiles/profile.ts";
import { RawJson } from "../../qjson.ts";
import { Objects } from "../objects.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi, VmCommandContext } from "../types.ts";
import type { DeviceNode } from "./catalogue.ts";
import { GHashOrder } from "./ghash.ts";

export const PERIPHERAL = "/machine/peripheral";
export const PERIPHERAL_ANON = "/machine/peripheral-anon";

/** A device's objects, mounted at its path: what the Devices subsystem puts into the tree. */
export interface MountedDevice {
  readonly type: string;
  readonly nodes: ReadonlyMap<string, DeviceNode>;
  /** Live values that replace recorded ones (the properties the device was created with, its bus, …). */
  readonly values: Map<string, unknown>;
}

/** A container whose children are devices, listed in GLib's hash order as QEMU lists them. */
class Container {
  readonly order = new GHashOrder();
  readonly types = new Map<string, string>();
}

export class Qom {
  static readonly provides: SubsystemProvides = PROVIDES.qom;

  readonly #vm: VmApi;
  readonly #static: ReadonlyMap<string, QomNode>;
  readonly #containers = new Map<string, Container>([
    [PERIPHERAL, new Container()],
    [PERIPHERAL_ANON, new Container()],
  ]);
  readonly #devices = new Map<string, MountedDevice>();

  constructor(vm: VmApi) {
    this.#vm = vm;
    this.#static = vm.machine.profile?.qomTree() ?? new Map();
    vm.command("qom-list", (args) => this.#list(args.path as string));
    vm.command("qom-get", (args) => this.#get(args.path as string, args.property as string));
    // HMP prints the same answers: `name (type)` lines, and the value as (pretty) JSON.
    vm.hmp("qom-list", (words) =>
      hmpText(() => {
        const listed = plain(this.#list(words[0] ?? "/")) as { name: string; type: string }[];
        return listed.map((p) => `${p.name} (${p.type})\r\n`).join("");
      }),
    );
    vm.hmp("qom-get", (words) =>
      hmpText(() => `${JSON.stringify(plain(this.#get(words[0] ?? "", words[1] ?? "")), null, 4)}\r\n`),
    );
    vm.command("qom-set", (args, ctx) =>
      this.#set(args.path as string, args.property as string, args.value, ctx),
    );
  }

  /** Puts a device at `path` (a child of one of the containers). */
  mount(path: string, device: MountedDevice): void {
    const { parent, name } = split(path);
    const container = this.#containers.get(parent);
    if (container === undefined) throw new Error(`${parent} holds no devices`);
    container.order.add(name);
    container.types.set(name, device.type);
    this.#devices.set(path, device);
  }

  unmount(path: string): void {
    const { parent, name } = split(path);
    const container = this.#containers.get(parent);
    container?.order.delete(name);
    container?.types.delete(name);
    this.#devices.delete(path);
  }

  /** Whether an object exists at this absolute path. */
  has(path: string): boolean {
    return this.#exists(path);
  }

  /** Whether `name` is taken in `/machine/peripheral` (device ids share it). */
  hasPeripheral(name: string): boolean {
    return this.#containers.get(PERIPHERAL)?.types.has(name) === true;
  }

  #resolve(path: string): string {
    if (path.startsWith("/")) {
      const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
      if (this.#exists(trimmed)) return trimmed;
      throw new QMPCommandError("DeviceNotFound", `Device '${path}' not found`);
    }
    // A partial path: the one object whose path ends with it.
    const matches = [...this.#allPaths()].filter((candidate) => candidate.endsWith(`/${path}`));
    if (matches.length === 1) return matches[0] as string;
    if (matches.length > 1) throw new QMPCommandError("GenericError", `Path '${path}' is ambiguous`);
    throw new QMPCommandError("DeviceNotFound", `Device '${path}' not found`);
  }

  *#allPaths(): Iterable<string> {
    for (const path of this.#static.keys()) if (!this.#isMissingObjects(path)) yield path;
    for (const [path, device] of this.#devices) {
      for (const relative of device.nodes.keys()) yield relative === "" ? path : `${path}/${relative}`;
    }
  }

  #exists(path: string): boolean {
    if (this.#isMissingObjects(path)) return false;
    return this.#static.has(path) || this.#deviceNode(path) !== undefined;
  }

  /** A path in /objects while QEMU 7.2 has not made that container yet (see {@link Objects.rootExists}). */
  #isMissingObjects(path: string): boolean {
    return (path === "/objects" || path.startsWith("/objects/")) && !this.#vm.get(Objects).rootExists();
  }

  #deviceNode(path: string): { device: MountedDevice; node: DeviceNode; own: boolean } | undefined {
    for (const [root, device] of this.#devices) {
      if (path === root) {
        const node = device.nodes.get("");
        return node && { device, node, own: true };
      }
      if (path.startsWith(`${root}/`)) {
        const node = device.nodes.get(path.slice(root.length + 1));
        return node && { device, node, own: false };
      }
    }
    return undefined;
  }

  #list(path: string): unknown {
    const resolved = this.#resolve(path);
    if (resolved === "/objects") return this.#objects();
    const container = this.#containers.get(resolved);
    if (container !== undefined) {
      // qom-list prepends as it walks: the object's own properties come out reversed, after the class's `type`.
      const children = container.order
        .keys()
        .reverse()
        .map((name) => ({ name, type: `child<${container.types.get(name)}>` }));
      return [{ name: "type", type: "string" }, ...children];
    }
    const found = this.#deviceNode(resolved);
    if (found) return returnOf(found.node.list);
    if (resolved === "/" && this.#isMissingObjects("/objects")) {
      // Removing a member from a GLib hash table leaves the others where they were: the recording minus /objects.
      return (this.#static.get("/")?.properties ?? []).filter((property) => property.name !== "objects");
    }
    const reply = this.#vm.machine.profile?.reply("qom-list", { path: resolved });
    return serve(reply?.kind === "return" ? { return: reply.text } : undefined, resolved);
  }

  /** /objects: the machine's RAM backend and what object-add created, in GLib's order for that history. */
  #objects(): unknown {
    const objects = this.#vm.get(Objects);
    const order = new GHashOrder();
    const types = new Map<string, string>();
    const recorded = this.#static.get("/objects")?.properties ?? [];
    for (const property of recorded) {
      if (!property.type.startsWith("child<")) continue;
      order.add(property.name);
      types.set(property.name, property.type);
    }
    for (const id of objects.ids()) {
      order.add(id);
      types.set(id, `child<${objects.typeOf(id) ?? "object"}>`);
    }
    const children = order
      .keys()
      .reverse()
      .map((name) => ({ name, type: types.get(name) as string }));
    return [{ name: "type", type: "string" }, ...children];
  }

  #typeOf(path: string): string {
    const found = this.#deviceNode(path);
    if (found)
      return (JSON.parse(found.node.get.get("type") ?? '{"return":"?"}') as { return: string }).return;
    const recorded = this.#static.get(path)?.values.get("type");
    return recorded?.kind === "return" ? (recorded.value() as string) : "?";
  }

  #notFound(path: string, property: string): never {
    throw new QMPCommandError("GenericError", `Property '${this.#typeOf(path)}.${property}' not found`);
  }

  #get(path: string, property: string): unknown {
    const resolved = this.#resolve(path);
    const container = this.#containers.get(resolved);
    if (container?.types.has(property)) return `${resolved}/${property}`;
    const found = this.#deviceNode(resolved);
    if (found) {
      if (found.own && found.device.values.has(property)) return found.device.values.get(property);
      const text = found.node.get.get(property);
      if (text === undefined) this.#notFound(resolved, property);
      return returnOf(text);
    }
    const reply = this.#static.get(resolved)?.values.get(property);
    if (reply === undefined) this.#notFound(resolved, property);
    if (reply.kind === "error") throw new QMPCommandError(reply.errorClass, reply.desc);
    return new RawJson(reply.text);
  }

  #set(path: string, property: string, value: unknown, ctx: VmCommandContext): unknown {
    const resolved = this.#resolve(path);
    const found = this.#deviceNode(resolved);
    if (found?.own) {
      const text = found.node.set.get(property);
      if (text !== undefined) {
        returnOf(text);
        // QEMU took it (a property that stays writable after realize, such as bootindex).
        found.device.values.set(property, value);
        return {};
      }
    }
    const known = found
      ? found.node.get.has(property)
      : this.#static.get(resolved)?.values.has(property) === true ||
        this.#containers.get(resolved)?.types.has(property) === true;
    if (!known) this.#notFound(resolved, property);
    return this.#vm.unimplemented(ctx, `qom-set of ${resolved} property ${property}`);
  }
}

/** A value as JSON data (a recorded reply is kept as QEMU's text until now). */
function plain(value: unknown): unknown {
  return value instanceof RawJson ? JSON.parse(value.text) : value;
}

/** What HMP prints for a command: its text, or QEMU's `Error: …` line. */
export function hmpText(run: () => string): string {
  try {
    return run();
  } catch (error) {
    if (error instanceof QMPCommandError) return `Error: ${error.desc}\r\n`;
    throw error;
  }
}

function split(path: string): { parent: string; name: string } {
  const at = path.lastIndexOf("/");
  return { parent: path.slice(0, at), name: path.slice(at + 1) };
}

/** A stored reply text (`{"return": …}` or `{"error": …}`): its return as QEMU's bytes, or its error thrown. */
export function returnOf(text: string): RawJson {
  if (text.startsWith('{"return": ')) return new RawJson(text.slice('{"return": '.length, -1));
  const { error } = JSON.parse(text) as { error: { class: string; desc: string } };
  throw new QMPCommandError(error.class, error.desc);
}

function serve(reply: { return: string } | undefined, path: string): unknown {
  if (reply === undefined) throw new QMPCommandError("DeviceNotFound", `Device '${path}' not found`);
  return new RawJson(reply.return);
}
