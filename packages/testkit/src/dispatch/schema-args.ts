/**
 * Argument checking the way QEMU's QAPI input visitor does it, driven by the introspection schema
 * (`query-qmp-schema`), so the fake rejects bad arguments with the same error text as QEMU for every command the
 * schema knows: members are visited in schema order (`Parameter 'x' is missing`, `Invalid parameter type for
 * 'x', expected: string`, `Parameter 'x' does not accept value 'y'`), then leftover members are reported in
 * the order of QEMU's hash tables (`Parameter 'x' is unexpected`).
 */
import {
  enumValues,
  indexSchema,
  isOptional,
  OPEN_ARGUMENT_COMMANDS,
  type SchemaEntry,
  type SchemaIndex,
  type TypeEntry,
} from "@qmpkit/qmp/qapi";
import { encodeQemuJson, ghashOrder, qdictOrder } from "../qjson.ts";
import { SchemaText } from "./schema-text.ts";

/** One entry of QEMU's introspection schema: `@qmpkit/qmp`'s model, shared with its argument validator. */
export type { SchemaEntry } from "@qmpkit/qmp/qapi";

const JSON_TYPE_NAMES: Record<string, string> = {
  string: "string",
  int: "integer",
  number: "number",
  boolean: "boolean",
  null: "null",
};

/**
 * QEMU's argument checks over an introspection schema: given as entries (indexed at once with `@qmpkit/qmp`'s
 * model), or as QEMU's text, whose entries are parsed as the checks reach them (see {@link SchemaText}).
 */
export class QAPISchema {
  readonly #source: readonly SchemaEntry[] | SchemaText;
  #index: SchemaIndex | undefined;

  constructor(source: readonly SchemaEntry[] | SchemaText) {
    this.#source = source;
    // Entries are indexed now, as before: a duplicate name throws here rather than on the first command.
    if (!(source instanceof SchemaText)) this.#index = indexSchema(source);
  }

  /** Every entry, in the schema's order (from a text: parses all of it). */
  get entries(): readonly SchemaEntry[] {
    return this.#source instanceof SchemaText ? this.#source.entries() : this.#source;
  }

  /** `query-qmp-schema`'s return as QEMU writes it: the recorded text itself when there is one. */
  json(): string {
    return this.#source instanceof SchemaText ? this.#source.text : encodeQemuJson(this.#source);
  }

  /** The command's entry, if the schema has it. */
  command(name: string): (SchemaEntry & { "meta-type": "command" }) | undefined {
    const entry = this.entry(name);
    return entry?.["meta-type"] === "command" ? entry : undefined;
  }

  /** Every command name the schema lists. */
  commandNames(): string[] {
    this.#index ??= indexSchema(this.entries);
    return [...this.#index.commands.keys()];
  }

  /** The entry named `name` (a command, a type, an event), if the schema has it. */
  entry(name: string): SchemaEntry | undefined {
    if (this.#index !== undefined) return this.#index.entries.get(name);
    return (this.#source as SchemaText).entry(name);
  }

  /** Checks `args` against `command`'s argument type; returns QEMU's error text, or undefined when they pass. */
  checkArguments(command: string, args: Record<string, unknown>): string | undefined {
    const entry = this.command(command);
    if (entry === undefined) return undefined;
    // device_add and its kin take members the schema does not list; QEMU checks those itself.
    return this.#visitObject(entry["arg-type"], args, undefined, OPEN_ARGUMENT_COMMANDS.has(command));
  }

  /** A type entry by name (an unknown name, or a command's or event's, is no type: nothing to check). */
  #type(name: string): TypeEntry | undefined {
    const entry = this.entry(name);
    if (entry === undefined || entry["meta-type"] === "command" || entry["meta-type"] === "event")
      return undefined;
    return entry;
  }

  // The visitors return QEMU's error text for the first problem (undefined: none), as QEMU's visitor stops at it.

  #visit(
    typeName: string,
    value: unknown,
    path: string | undefined,
    rawName: string | undefined,
  ): string | undefined {
    const type = this.#type(typeName);
    if (type === undefined) return undefined;
    switch (type["meta-type"]) {
      case "builtin": {
        const jsonType = type["json-type"];
        if (jsonType === "value") return undefined;
        const ok =
          (jsonType === "string" && typeof value === "string") ||
          (jsonType === "int" && typeof value === "number" && Number.isInteger(value)) ||
          (jsonType === "number" && typeof value === "number") ||
          (jsonType === "boolean" && typeof value === "boolean") ||
          (jsonType === "null" && value === null) ||
          (jsonType === "object" && typeof value === "object" && value !== null && !Array.isArray(value));
        return ok ? undefined : typeError(path, JSON_TYPE_NAMES[jsonType] ?? jsonType);
      }
      case "enum":
        if (typeof value !== "string") return typeError(path, "string");
        // QEMU names the member here without its path, and says 'null' for list elements (sic).
        return enumValues(type).includes(value)
          ? undefined
          : `Parameter '${rawName ?? "null"}' does not accept value '${value}'`;
      case "array": {
        if (!Array.isArray(value)) return typeError(path, "array");
        const element = type["element-type"];
        for (let index = 0; index < value.length; index++) {
          const problem = this.#visit(element, value[index], `${path ?? ""}[${index}]`, undefined);
          if (problem !== undefined) return problem;
        }
        return undefined;
      }
      case "object":
        if (typeof value !== "object" || value === null || Array.isArray(value))
          return typeError(path, "object");
        return this.#visitObject(type.name, value as Record<string, unknown>, path);
      default:
        // Alternates accept several JSON types; QEMU's rules for them are not reproduced.
        return undefined;
    }
  }

  #visitObject(
    typeName: string,
    value: Record<string, unknown>,
    path: string | undefined,
    allowUnlisted = false,
  ): string | undefined {
    const visited = new Set<string>();
    const problem = this.#visitMembers(typeName, value, path, visited);
    if (problem !== undefined || allowUnlisted) return problem;
    // Every visited name is an own member, so when the counts match nothing is left over; and a lone leftover is
    // the first whatever the order. Most requests end here, without hashing their keys.
    const keys = Object.keys(value);
    if (keys.length === visited.size) return undefined;
    const leftover =
      keys.length - visited.size === 1 ? unvisited(keys, visited) : firstLeftover(keys, visited);
    return leftover === undefined ? undefined : `Parameter '${join(path, leftover)}' is unexpected`;
  }

  #visitMembers(
    typeName: string,
    value: Record<string, unknown>,
    path: string | undefined,
    visited: Set<string>,
  ): string | undefined {
    const type = this.#type(typeName);
    if (type === undefined || type["meta-type"] !== "object") return undefined;
    for (const member of type.members) {
      if (!Object.hasOwn(value, member.name)) {
        if (isOptional(member)) continue;
        return `Parameter '${join(path, member.name)}' is missing`;
      }
      visited.add(member.name);
      const memberPath = path === undefined ? member.name : `${path}.${member.name}`;
      const problem = this.#visit(member.type, value[member.name], memberPath, member.name);
      if (problem !== undefined) return problem;
    }
    if (type.tag !== undefined && type.variants !== undefined) {
      const tagValue = value[type.tag];
      const variant = type.variants.find((v) => v.case === tagValue);
      if (variant !== undefined) return this.#visitMembers(variant.type, value, path, visited);
    }
    return undefined;
  }
}

function unvisited(keys: readonly string[], visited: ReadonlySet<string>): string | undefined {
  for (let i = 0; i < keys.length; i++) if (!visited.has(keys[i] as string)) return keys[i];
  return undefined;
}

/** The leftover QEMU reports: its visitor copies the members into a GHashTable in QDict order. */
function firstLeftover(keys: readonly string[], visited: ReadonlySet<string>): string | undefined {
  return unvisited(ghashOrder(qdictOrder(keys)), visited);
}

function join(path: string | undefined, name: string): string {
  return path === undefined ? name : `${path}.${name}`;
}

function typeError(path: string | undefined, expected: string): string {
  return `Invalid parameter type for '${path ?? "null"}', expected: ${expected}`;
}
