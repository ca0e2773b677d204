/**
 * `key=value` arguments carry only strings; QEMU's keyval input visitor converts each to the type the schema
 * gives it (`size=1024` → an integer, `read-only=on` → a boolean). This does the same, so a command-line
 * `-object`/`-blockdev`/`-netdev` reaches the VM model typed exactly like the QMP command that hotplugs it.
 * A string that does not convert is left as it is, for the schema check to reject with QEMU's text.
 */
import type { SchemaEntry } from "../dispatch/schema-args.ts";

/** `args` with strings converted where the argument type of `command` asks for a number or boolean. */
export function typeKeyvalArguments(
  schema: readonly SchemaEntry[],
  command: string,
  args: Record<string, unknown>,
): Record<string, unknown> {
  const byName = new Map<string, SchemaEntry>();
  let argType: string | undefined;
  for (const entry of schema) {
    if (entry["meta-type"] === "command") {
      if (entry.name === command) argType = entry["arg-type"];
    } else if (entry["meta-type"] !== "event") {
      byName.set(entry.name, entry);
    }
  }
  if (argType === undefined) return args;
  return convertObject(byName, argType, args);
}

function convertObject(
  byName: Map<string, SchemaEntry>,
  typeName: string,
  value: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  const visit = (name: string) => {
    const type = byName.get(name);
    if (type === undefined || type["meta-type"] !== "object") return;
    for (const member of type.members ?? []) {
      const key = member.name ?? "";
      if (Object.hasOwn(out, key)) out[key] = convert(byName, member.type ?? "", out[key]);
    }
    if (type.tag !== undefined && type.variants !== undefined) {
      const variant = type.variants.find((v) => v.case === out[type.tag as string]);
      if (variant !== undefined) visit(variant.type);
    }
  };
  visit(typeName);
  return out;
}

function convert(byName: Map<string, SchemaEntry>, typeName: string, value: unknown): unknown {
  const type = byName.get(typeName);
  if (type === undefined) return value;
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    if (type["meta-type"] === "object")
      return convertObject(byName, typeName, value as Record<string, unknown>);
    if (type["meta-type"] === "alternate") {
      const objectBranch = type.members?.find((m) => byName.get(m.type ?? "")?.["meta-type"] === "object");
      if (objectBranch !== undefined)
        return convertObject(byName, objectBranch.type ?? "", value as Record<string, unknown>);
    }
    return value;
  }
  if (typeof value !== "string") return value;
  const jsonType =
    type["meta-type"] === "builtin"
      ? type["json-type"]
      : type["meta-type"] === "alternate"
        ? type.members
            ?.map((m) => {
              const branch = byName.get(m.type ?? "");
              return branch?.["meta-type"] === "builtin" ? branch["json-type"] : undefined;
            })
            .find((t) => t === "int" || t === "boolean")
        : undefined;
  if (jsonType === "int" || jsonType === "number") {
    const parsed = parseSize(value);
    return parsed ?? value;
  }
  if (jsonType === "boolean") {
    if (value === "on" || value === "true" || value === "yes") return true;
    if (value === "off" || value === "false" || value === "no") return false;
  }
  return value;
}

/** Integers, and the size suffixes keyval accepts for size members (`64M`). */
function parseSize(text: string): number | undefined {
  const match = /^(\d+)([kKmMgGtT]?)$/.exec(text);
  if (match === null) return /^-?0x[0-9a-fA-F]+$/.test(text) ? Number.parseInt(text, 16) : undefined;
  const scale: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  return Number(match[1]) * (scale[(match[2] ?? "").toLowerCase()] ?? 1);
}
