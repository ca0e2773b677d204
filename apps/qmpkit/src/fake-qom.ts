/**
 * A small QOM tree for the embedded fake, so `qmpkit qom … --fake` has something real to show. The
 * nodes, property names and types are what QEMU 7.2 lists for `-machine none -nodefaults`; values
 * not recorded default by type (false, "", 0). Errors use QEMU's classes and wording.
 */

import { type CommandHandler, QMPCommandError, RawJson } from "@qmpkit/testkit/fake";

type Props = readonly (readonly [name: string, type: string])[];

const MEMORY_REGION: Props = [
  ["type", "string"],
  ["container", "link<memory-region>"],
  ["addr", "uint64"],
  ["size", "uint64"],
  ["priority", "uint32"],
];

/** Path -> [QOM type, properties], as recorded. */
const TREE: ReadonlyMap<string, readonly [string, Props]> = new Map([
  [
    "/",
    [
      "container",
      [
        ["type", "string"],
        ["machine", "child<none-machine>"],
        ["chardevs", "child<container>"],
      ],
    ],
  ],
  [
    "/machine",
    [
      "none-machine",
      [
        ["type", "string"],
        ["kernel", "string"],
        ["dt-compatible", "string"],
        ["boot", "BootConfiguration"],
        ["memory", "MemorySizeConfiguration"],
        ["initrd", "string"],
        ["confidential-guest-support", "link<confidential-guest-support>"],
        ["graphics", "bool"],
        ["usb", "bool"],
        ["firmware", "string"],
        ["memory-encryption", "string"],
        ["smp", "SMPConfiguration"],
        ["dump-guest-core", "bool"],
        ["phandle-start", "int"],
        ["dumpdtb", "string"],
        ["memory-backend", "link<memory-backend>"],
        ["dtb", "string"],
        ["mem-merge", "bool"],
        ["append", "string"],
        ["suppress-vmdesc", "bool"],
        ["peripheral-anon", "child<container>"],
        ["peripheral", "child<container>"],
        ["unattached", "child<container>"],
      ],
    ],
  ],
  ["/machine/peripheral-anon", ["container", [["type", "string"]]]],
  ["/machine/peripheral", ["container", [["type", "string"]]]],
  [
    "/machine/unattached",
    [
      "container",
      [
        ["type", "string"],
        ["io[0]", "child<memory-region>"],
        ["system[0]", "child<memory-region>"],
        ["sysbus", "child<System>"],
      ],
    ],
  ],
  ["/machine/unattached/io[0]", ["memory-region", MEMORY_REGION]],
  ["/machine/unattached/system[0]", ["memory-region", MEMORY_REGION]],
  [
    "/machine/unattached/sysbus",
    [
      "System",
      [
        ["type", "string"],
        ["realized", "bool"],
        ["hotplug-handler", "link<hotplug-handler>"],
      ],
    ],
  ],
  [
    "/chardevs",
    [
      "container",
      [
        ["type", "string"],
        ["compat_monitor0", "child<chardev-socket>"],
      ],
    ],
  ],
  [
    "/chardevs/compat_monitor0",
    [
      "chardev-socket",
      [
        ["type", "string"],
        ["connected", "bool"],
        ["addr", "SocketAddress"],
      ],
    ],
  ],
]);

/** Values QEMU 7.2 reported that the defaults below would get wrong. */
const RECORDED: ReadonlyMap<string, unknown> = new Map<string, unknown>([
  ["/machine/boot", { order: "" }],
  ["/machine/unattached/io[0]/size", 65536],
  // 2^64 - 1: beyond what a JavaScript number holds exactly, as QEMU sends it.
  ["/machine/unattached/system[0]/size", new RawJson("18446744073709551615")],
  ["/chardevs/compat_monitor0/connected", true],
]);

function defaultValue(type: string): unknown {
  if (type === "bool") return false;
  if (type === "string" || type.startsWith("link<")) return "";
  if (/^u?int\d*$/.test(type)) return 0;
  return {};
}

/** QEMU resolves relative paths too (`machine` finds `/machine`); the fake accepts the absolute ones and `/`. */
function node(path: unknown): readonly [string, Props] {
  const key = typeof path === "string" && path.length > 1 ? path.replace(/\/$/, "") : path;
  const found = typeof key === "string" ? TREE.get(key) : undefined;
  if (found === undefined) throw new QMPCommandError("DeviceNotFound", `Device '${String(path)}' not found`);
  return found;
}

function property(path: unknown, name: unknown): { key: string; type: string; qomType: string } {
  const [qomType, props] = node(path);
  const type = props.find(([n]) => n === name)?.[1];
  if (type === undefined)
    throw new QMPCommandError("GenericError", `Property '${qomType}.${String(name)}' not found`);
  const base = path === "/" ? "" : String(path).replace(/\/$/, "");
  return { key: `${base}/${String(name)}`, type, qomType };
}

/** `qom-list`, `qom-get` and `qom-set` handlers over the recorded tree; `qom-set` changes this fake only. */
export function qomHandlers(): Record<"qom-list" | "qom-get" | "qom-set", CommandHandler> {
  const values = new Map(RECORDED);
  return {
    "qom-list": (args) => node(args.path)[1].map(([name, type]) => ({ name, type })),
    "qom-get": (args) => {
      const { key, type, qomType } = property(args.path, args.property);
      if (args.property === "type") return qomType;
      if (type.startsWith("child<")) return `${key}`;
      return values.has(key) ? values.get(key) : defaultValue(type);
    },
    "qom-set": (args) => {
      const { key } = property(args.path, args.property);
      if (args.property === "type")
        throw new QMPCommandError("GenericError", "Insufficient permission to perform this operation");
      values.set(key, args.value);
      return {};
    },
  };
}
