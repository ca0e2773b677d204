import { join } from "node:path";
import { loadSchema, type SchemaIndex } from "../src/schema.ts";

/** The recorded QEMU 7.2 schema committed by the testkit. */
export const SCHEMA_FIXTURE = join(
  import.meta.dir,
  "../../../packages/testkit/fixtures/qemu-7.2-schema.json",
);

let cached: SchemaIndex | undefined;

export async function qemuSchema(): Promise<SchemaIndex> {
  cached ??= loadSchema(await Bun.file(SCHEMA_FIXTURE).json());
  return cached;
}

/**
 * A hand-made schema small enough to read: a command with a flat union argument whose variant
 * refers back to the union (recursion), an alternate, arrays, enums and optional members.
 */
export const tinySchema = loadSchema([
  { name: "node-add", "meta-type": "command", "arg-type": "10", "ret-type": "0", features: ["unstable"] },
  { name: "ping", "meta-type": "command", "arg-type": "0", "ret-type": "0", "allow-oob": true },
  { name: "list-things", "meta-type": "command", "arg-type": "0", "ret-type": "[13]" },
  { name: "deep", "meta-type": "command", "arg-type": "20", "ret-type": "0" },
  { name: "THING_HAPPENED", "meta-type": "event", "arg-type": "13" },
  { name: "QUIET", "meta-type": "event", "arg-type": "0" },
  { name: "0", "meta-type": "object", members: [] },
  {
    name: "10",
    "meta-type": "object",
    tag: "driver",
    members: [
      { name: "driver", type: "11" },
      { name: "name", type: "str", default: null },
    ],
    variants: [
      { case: "file", type: "12" },
      { case: "host", type: "12" },
      { case: "wrap", type: "14" },
      { case: "null", type: "0" },
    ],
  },
  { name: "11", "meta-type": "enum", values: ["file", "host", "wrap", "null"] },
  {
    name: "12",
    "meta-type": "object",
    members: [
      { name: "filename", type: "str" },
      { name: "size", type: "int", default: null, features: ["deprecated"] },
    ],
  },
  {
    name: "13",
    "meta-type": "object",
    members: [
      { name: "id", type: "str" },
      { name: "tags", type: "[str]" },
      { name: "mode", type: "[11]", default: null },
    ],
  },
  { name: "14", "meta-type": "object", members: [{ name: "inner", type: "15" }] },
  { name: "15", "meta-type": "alternate", members: [{ type: "10" }, { type: "str" }] },
  { name: "20", "meta-type": "object", members: [{ name: "a", type: "21" }] },
  { name: "21", "meta-type": "object", members: [{ name: "b", type: "22" }] },
  { name: "22", "meta-type": "object", members: [{ name: "c", type: "any" }] },
  { name: "[str]", "meta-type": "array", "element-type": "str" },
  { name: "[11]", "meta-type": "array", "element-type": "11" },
  { name: "[13]", "meta-type": "array", "element-type": "13" },
  { name: "str", "meta-type": "builtin", "json-type": "string" },
  { name: "int", "meta-type": "builtin", "json-type": "int" },
  { name: "any", "meta-type": "builtin", "json-type": "value" },
]);
