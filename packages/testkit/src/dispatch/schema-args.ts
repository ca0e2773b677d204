/**
 * Argument checking the way QEMU's QAPI input visitor does it, driven by the introspection schema
 * (`query-qmp-schema`), so the fake rejects bad arguments with the same error text as QEMU for every command the
 * schema knows: members are visited in schema order (`Parameter 'x' is missing`, `Invalid parameter type for
 * 'x', expected: string`, `Parameter 'x' does not accept value 'y'`), then leftover members are reported in
 * the order of QEMU's hash tables (`Parameter 'x' is unexpected`).
 */
import { OPEN_ARGUMENT_COMMANDS } from "@qmpkit/qmp";
import { ghashOrder, qdictOrder } from "../qjson.ts";

/** One entry of QEMU's introspection schema (the `return` of `query-qmp-schema`). */
export interface SchemaEntry {
  name: string;
  "meta-type": string;
  "arg-type"?: string;
  "ret-type"?: string;
  "allow-oob"?: boolean;
  "json-type"?: string;
  "element-type"?: string;
  members?: { name?: string; type?: string; default?: unknown }[];
  values?: string[];
  tag?: string;
  variants?: { case: string; type: string }[];
  [key: string]: unknown;
}

const JSON_TYPE_NAMES: Record<string, string> = {
  string: "string",
  int: "integer",
  number: "number",
  boolean: "boolean",
  null: "null",
};

/** An indexed view of an introspection schema. */
export class QapiSchema {
  readonly entries: readonly SchemaEntry[];
  readonly #byName = new Map<string, SchemaEntry>();
  readonly #commands = new Map<string, SchemaEntry>();

  constructor(entries: readonly SchemaEntry[]) {
    this.entries = entries;
    for (const entry of entries) {
      if (entry["meta-type"] === "command") this.#commands.set(entry.name, entry);
      else if (entry["meta-type"] !== "event") this.#byName.set(entry.name, entry);
    }
  }

  /** The command's entry, if the schema has it. */
  command(name: string): SchemaEntry | undefined {
    return this.#commands.get(name);
  }

  /** Every command name the schema lists. */
  commandNames(): string[] {
    return [...this.#commands.keys()];
  }

  /** Checks `args` against `command`'s argument type; returns QEMU's error text, or undefined when they pass. */
  checkArguments(command: string, args: Record<string, unknown>): string | undefined {
    const entry = this.#commands.get(command);
    if (entry?.["arg-type"] === undefined) return undefined;
    try {
      // device_add and its kin take members the schema does not list; QEMU checks those itself.
      this.#visitObject(entry["arg-type"], args, undefined, OPEN_ARGUMENT_COMMANDS.has(command));
      return undefined;
    } catch (error) {
      if (error instanceof VisitError) return error.message;
      throw error;
    }
  }

  #visit(typeName: string, value: unknown, path: string | undefined, rawName: string | undefined): void {
    const type = this.#byName.get(typeName);
    if (type === undefined) return;
    switch (type["meta-type"]) {
      case "builtin": {
        const jsonType = type["json-type"] ?? "value";
        if (jsonType === "value") return;
        const ok =
          (jsonType === "string" && typeof value === "string") ||
          (jsonType === "int" && typeof value === "number" && Number.isInteger(value)) ||
          (jsonType === "number" && typeof value === "number") ||
          (jsonType === "boolean" && typeof value === "boolean") ||
          (jsonType === "null" && value === null);
        if (!ok) throw typeError(path, JSON_TYPE_NAMES[jsonType] ?? jsonType);
        return;
      }
      case "enum":
        if (typeof value !== "string") throw typeError(path, "string");
        if (!(type.values ?? []).includes(value)) {
          // QEMU names the member here without its path, and says 'null' for list elements (sic).
          throw new VisitError(`Parameter '${rawName ?? "null"}' does not accept value '${value}'`);
        }
        return;
      case "array": {
        if (!Array.isArray(value)) throw typeError(path, "array");
        const element = type["element-type"] ?? "";
        value.forEach((item, index) => {
          this.#visit(element, item, `${path ?? ""}[${index}]`, undefined);
        });
        return;
      }
      case "object":
        if (typeof value !== "object" || value === null || Array.isArray(value))
          throw typeError(path, "object");
        this.#visitObject(type.name, value as Record<string, unknown>, path);
        return;
      default:
        // Alternates accept several JSON types; QEMU's rules for them are not reproduced.
        return;
    }
  }

  #visitObject(
    typeName: string,
    value: Record<string, unknown>,
    path: string | undefined,
    allowUnlisted = false,
  ): void {
    const visited = new Set<string>();
    this.#visitMembers(typeName, value, path, visited);
    if (allowUnlisted) return;
    // The visitor copies the members into a GHashTable in QDict order and reports the first one left over.
    const leftover = ghashOrder(qdictOrder(Object.keys(value))).find((key) => !visited.has(key));
    if (leftover !== undefined) {
      throw new VisitError(`Parameter '${join(path, leftover)}' is unexpected`);
    }
  }

  #visitMembers(
    typeName: string,
    value: Record<string, unknown>,
    path: string | undefined,
    visited: Set<string>,
  ) {
    const type = this.#byName.get(typeName);
    if (type === undefined || type["meta-type"] !== "object") return;
    for (const member of type.members ?? []) {
      const name = member.name ?? "";
      const optional = "default" in member;
      if (!Object.hasOwn(value, name)) {
        if (optional) continue;
        throw new VisitError(`Parameter '${join(path, name)}' is missing`);
      }
      visited.add(name);
      this.#visit(member.type ?? "", value[name], join(path, name), name);
    }
    if (type.tag !== undefined && type.variants !== undefined) {
      const tagValue = value[type.tag];
      const variant = type.variants.find((v) => v.case === tagValue);
      if (variant !== undefined) this.#visitMembers(variant.type, value, path, visited);
    }
  }
}

class VisitError extends Error {}

function join(path: string | undefined, name: string): string {
  return path === undefined ? name : `${path}.${name}`;
}

function typeError(path: string | undefined, expected: string): VisitError {
  return new VisitError(`Invalid parameter type for '${path ?? "null"}', expected: ${expected}`);
}
