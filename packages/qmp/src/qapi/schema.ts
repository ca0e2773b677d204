/**
 * The QAPI introspection format: what QEMU answers to `query-qmp-schema`.
 *
 * The schema is a flat array of entries. Commands and events keep their real names; most type names are masked
 * (`"123"`), array types are spelt `"[elem]"`, and builtins keep their QAPI names (`str`, `int`, `any`, ...).
 * See QEMU's docs/devel/qapi-code-gen.rst, section "Client JSON Protocol introspection".
 *
 * @module
 */

import { QMPError } from "@qmpkit/protocol-core";

/** JSON types a builtin can stand for; `int` is the integer subset of `number`, `value` is any JSON value. */
export type JsonType = "string" | "number" | "int" | "boolean" | "null" | "object" | "value";

/** Every `meta-type` QEMU 7.2 emits. A newer QEMU may add more; {@link parseSchema} keeps such entries as-is. */
export type MetaType = "builtin" | "enum" | "object" | "array" | "alternate" | "command" | "event";

interface EntryBase {
  readonly name: string;
  /** Feature flags, e.g. `deprecated`, `unstable`. */
  readonly features?: readonly string[];
}

/** A builtin type (`str`, `int`, `any`, ...); only its JSON type matters. */
export interface BuiltinEntry extends EntryBase {
  readonly "meta-type": "builtin";
  readonly "json-type": JsonType;
}

/** One value of an enum. */
export interface EnumMember {
  readonly name: string;
  readonly features?: readonly string[];
}

/** An enum: a string restricted to a list of values. */
export interface EnumEntry extends EntryBase {
  readonly "meta-type": "enum";
  /** Since QEMU 6.0; read values through {@link enumValues}, which also handles the legacy `values` list. */
  readonly members?: readonly EnumMember[];
  /** Legacy spelling of the values, still sent beside `members` by QEMU 7.2. */
  readonly values?: readonly string[];
}

/** One member of an object type. */
export interface ObjectMember {
  readonly name: string;
  readonly type: string;
  /** Present (always `null`) exactly when the member is optional. Test with {@link isOptional}. */
  readonly default?: null;
  readonly features?: readonly string[];
}

/** One branch of a flat union: the members added when the tag has value `case`. */
export interface Variant {
  /** A value of the tag member's enum. */
  readonly case: string;
  /** The object type whose members are added when the tag has this value. */
  readonly type: string;
}

/** A struct, or with `tag` and `variants` a flat (discriminated) union. */
export interface ObjectEntry extends EntryBase {
  readonly "meta-type": "object";
  readonly members: readonly ObjectMember[];
  /** Name of the discriminator member of a flat union; set together with `variants`. */
  readonly tag?: string;
  readonly variants?: readonly Variant[];
}

/** An array type, named `[elem]`. */
export interface ArrayEntry extends EntryBase {
  readonly "meta-type": "array";
  readonly "element-type": string;
}

/** An alternate: a value of any one of its branch types, told apart by JSON type. */
export interface AlternateEntry extends EntryBase {
  readonly "meta-type": "alternate";
  /** The branches; QAPI guarantees that each has a different JSON type. */
  readonly members: readonly { readonly type: string }[];
}

/** A command; `arg-type` and `ret-type` name object (or, for returns, any) types. */
export interface CommandEntry extends EntryBase {
  readonly "meta-type": "command";
  readonly "arg-type": string;
  readonly "ret-type": string;
  readonly "allow-oob"?: boolean;
}

/** An event; `arg-type` names the object type of its `data`. */
export interface EventEntry extends EntryBase {
  readonly "meta-type": "event";
  readonly "arg-type": string;
}

/** A type entry: anything a member, element, variant or argument can refer to. */
export type TypeEntry = BuiltinEntry | EnumEntry | ObjectEntry | ArrayEntry | AlternateEntry;

/** One element of the `query-qmp-schema` reply. */
export type SchemaEntry = TypeEntry | CommandEntry | EventEntry;

/** Thrown when a schema is malformed or refers to a type it does not define. */
export class QAPISchemaError extends QMPError {
  override name = "QAPISchemaError";
  override code = "QMP_ERR_SCHEMA";
}

/** The schema indexed by name. Commands, events and types share one namespace in QAPI. */
export interface SchemaIndex {
  readonly entries: ReadonlyMap<string, SchemaEntry>;
  readonly commands: ReadonlyMap<string, CommandEntry>;
  readonly events: ReadonlyMap<string, EventEntry>;
}

/**
 * Index a schema by name.
 *
 * @example
 * const index = indexSchema(await client.execute("query-qmp-schema"));
 * index.commands.get("query-status")?.["ret-type"];
 */
export function indexSchema(schema: readonly SchemaEntry[]): SchemaIndex {
  const entries = new Map<string, SchemaEntry>();
  const commands = new Map<string, CommandEntry>();
  const events = new Map<string, EventEntry>();
  for (const entry of schema) {
    if (entries.has(entry.name)) throw new QAPISchemaError(`duplicate schema entry "${entry.name}"`);
    entries.set(entry.name, entry);
    if (entry["meta-type"] === "command") commands.set(entry.name, entry);
    else if (entry["meta-type"] === "event") events.set(entry.name, entry);
  }
  return { entries, commands, events };
}

/** Look up a type entry, throwing {@link QAPISchemaError} when the schema does not define it. */
export function lookupType(index: SchemaIndex, name: string): TypeEntry {
  const entry = index.entries.get(name);
  if (entry === undefined)
    throw new QAPISchemaError(`the schema refers to type "${name}" but does not define it`);
  if (entry["meta-type"] === "command" || entry["meta-type"] === "event") {
    throw new QAPISchemaError(`"${name}" is a ${entry["meta-type"]}, not a type`);
  }
  return entry;
}

/** Whether an object member may be left out. */
export function isOptional(member: ObjectMember): boolean {
  return "default" in member;
}

/** The values of an enum, from `members` or, for older QEMUs, from `values`. */
export function enumValues(entry: EnumEntry): string[] {
  if (entry.members !== undefined) return entry.members.map((m) => m.name);
  return [...(entry.values ?? [])];
}

/**
 * Commands whose arguments the schema lists only in part. QEMU declares them with `'gen': false` and checks
 * the rest itself (`device_add` takes any property of the device being added, e.g. `netdev` or `drive`);
 * introspection cannot say so, hence this list. Unknown top-level members are allowed for these.
 */
export const OPEN_ARGUMENT_COMMANDS: ReadonlySet<string> = new Set(["device_add"]);

/** Whether a type name is one QEMU masked (`"123"`) or one QAPI made up for an implicit type (`q_obj_...`). */
export function isMaskedName(name: string): boolean {
  return /^\d+$/.test(name) || name.startsWith("q_");
}

/** The type names an entry refers to, in schema order. */
export function referencedTypes(entry: SchemaEntry): string[] {
  switch (entry["meta-type"]) {
    case "object":
      return [...entry.members.map((m) => m.type), ...(entry.variants ?? []).map((v) => v.type)];
    case "array":
      return [entry["element-type"]];
    case "alternate":
      return entry.members.map((m) => m.type);
    case "command":
      return [entry["arg-type"], entry["ret-type"]];
    case "event":
      return [entry["arg-type"]];
    default:
      return [];
  }
}

const metaTypes = new Set<string>(["builtin", "enum", "object", "array", "alternate", "command", "event"]);

/**
 * Check that a parsed `query-qmp-schema` reply has the introspection shape and return it typed.
 * Entries of a meta-type this version does not know are dropped, so a newer QEMU still loads.
 *
 * @throws {QAPISchemaError} naming the first offending entry.
 */
export function parseSchema(value: unknown): SchemaEntry[] {
  if (!Array.isArray(value)) throw new QAPISchemaError("a QAPI schema must be a JSON array of entries");
  const out: SchemaEntry[] = [];
  value.forEach((raw: unknown, i) => {
    const where = `schema entry ${i}`;
    if (!isRecord(raw)) throw new QAPISchemaError(`${where} is not an object`);
    const name = raw.name;
    const meta = raw["meta-type"];
    if (typeof name !== "string") throw new QAPISchemaError(`${where} has no string "name"`);
    if (typeof meta !== "string") throw new QAPISchemaError(`${where} ("${name}") has no string "meta-type"`);
    if (!metaTypes.has(meta)) return;
    const need = (key: string, ok: (v: unknown) => boolean, what: string): void => {
      if (!ok(raw[key])) throw new QAPISchemaError(`${meta} "${name}": "${key}" must be ${what}`);
    };
    const isString = (v: unknown): boolean => typeof v === "string";
    const isArrayOf =
      (keys: string[]) =>
      (v: unknown): boolean =>
        Array.isArray(v) && v.every((m) => isRecord(m) && keys.every((k) => typeof m[k] === "string"));
    switch (meta) {
      case "builtin":
        need("json-type", isString, "a string");
        break;
      case "enum":
        if (raw.members === undefined)
          need("values", (v) => Array.isArray(v) && v.every(isString), "strings");
        else need("members", isArrayOf(["name"]), "an array of {name}");
        break;
      case "object":
        need("members", isArrayOf(["name", "type"]), "an array of {name, type}");
        if (raw.tag !== undefined || raw.variants !== undefined) {
          need("tag", isString, "a string");
          need("variants", isArrayOf(["case", "type"]), "an array of {case, type}");
        }
        break;
      case "array":
        need("element-type", isString, "a string");
        break;
      case "alternate":
        need("members", isArrayOf(["type"]), "an array of {type}");
        break;
      case "command":
        need("arg-type", isString, "a string");
        need("ret-type", isString, "a string");
        break;
      case "event":
        need("arg-type", isString, "a string");
        break;
    }
    out.push(raw as unknown as SchemaEntry);
  });
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
