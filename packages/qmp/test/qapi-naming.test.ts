import { describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { readSchemaFile } from "../scripts/generate-types.ts";
import { generateTypes } from "../src/qapi/generate.ts";
import { pascalCase } from "../src/qapi/naming.ts";
import { isMaskedName, parseSchema, QAPISchemaError, type SchemaEntry } from "../src/qapi/schema.ts";
import { fixturePath, runTsc, strictTsconfig } from "./qapi-helpers.ts";

/** A small schema with the corner cases the QEMU 7.2 fixture does not have. */
const corner = parseSchema([
  { name: "int", "meta-type": "builtin", "json-type": "int" },
  { name: "str", "meta-type": "builtin", "json-type": "string" },
  { name: "bool", "meta-type": "builtin", "json-type": "boolean" },
  { name: "null", "meta-type": "builtin", "json-type": "null" },
  { name: "any", "meta-type": "builtin", "json-type": "value" },
  { name: "QType", "meta-type": "builtin", "json-type": "object" },
  { name: "0", "meta-type": "object", members: [] },
  // Unmasked names (a QEMU built to expose them), folded together: one declaration and an alias.
  { name: "StatusInfo", "meta-type": "object", members: [{ name: "running", type: "bool" }] },
  { name: "OtherInfo", "meta-type": "object", members: [{ name: "running", type: "bool" }] },
  { name: "q_obj_x-args", "meta-type": "object", members: [{ name: "9lives", type: "int", default: null }] },
  // Legacy enum spelling, and a deprecated value.
  { name: "5", "meta-type": "enum", values: ["a", "b-c"] },
  { name: "6", "meta-type": "enum", members: [{ name: "on" }, { name: "old", features: ["deprecated"] }] },
  { name: "7", "meta-type": "enum", members: [] },
  {
    name: "8",
    "meta-type": "object",
    members: [
      { name: "kind", type: "5" },
      { name: "dotted.name", type: "str", default: null, features: ["unstable", "deprecated"] },
    ],
    tag: "kind",
    // Case "b-c" has no variant: older schemas leave value-only branches out.
    variants: [{ case: "a", type: "9" }],
  },
  { name: "9", "meta-type": "object", members: [{ name: "level", type: "6" }] },
  {
    name: "10",
    "meta-type": "alternate",
    members: [{ type: "str" }, { type: "9" }, { type: "[int]" }, { type: "null" }],
  },
  { name: "[int]", "meta-type": "array", "element-type": "int" },
  { name: "[[10]]", "meta-type": "array", "element-type": "[10]" },
  { name: "[10]", "meta-type": "array", "element-type": "10" },
  {
    name: "11",
    "meta-type": "object",
    members: [
      { name: "never", type: "7" },
      { name: "raw", type: "QType" },
    ],
  },
  { name: "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "StatusInfo" },
  {
    name: "query-other",
    "meta-type": "command",
    "arg-type": "0",
    "ret-type": "OtherInfo",
    "allow-oob": true,
  },
  {
    name: "x-do",
    "meta-type": "command",
    "arg-type": "q_obj_x-args",
    "ret-type": "[[10]]",
    features: ["unstable"],
  },
  // x-do and x_do both want XDoArgs: the code-point-first path keeps the plain name.
  { name: "x_do", "meta-type": "command", "arg-type": "8", "ret-type": "11", features: ["deprecated"] },
  { name: "OLD_EVENT", "meta-type": "event", "arg-type": "0", features: ["deprecated", "json-cli"] },
  { name: "orphan", "meta-type": "enum", values: ["unused"] },
  { name: "future", "meta-type": "gizmo" },
]);

describe("generateTypes corner cases", () => {
  const out = generateTypes(corner);

  test("keeps unmasked QAPI names, aliases folded ones, and names masked and q_ ones by use", () => {
    expect(out).toContain("export interface OtherInfo {\n  running: boolean;\n}");
    expect(out).toContain("export interface StatusInfo extends OtherInfo {}");
    expect(out).toContain("export interface QueryStatusReturn extends OtherInfo {}");
    expect(out).toContain('"query-status": { args: EmptyObject; returns: QueryStatusReturn };');
    expect(out).toContain('  "9lives"?: number;');
    expect(isMaskedName("q_obj_x-args")).toBe(true);
  });

  test("breaks name ties by path in code-point order and suffixes the loser", () => {
    expect(out).toContain('"x-do": { args: XDoArgs; returns: XDoReturn[][] };');
    expect(out).toContain('"x_do": { args: XDoArgs2; returns: XDoReturn2 };');
  });

  test("maps enums, alternates, arrays, empty enums, object builtins and flat unions", () => {
    expect(out).toContain('export type XDoArgs2Kind = "a" | "b-c";');
    // Arrays are transparent, so the alternate inside [[10]] is XDoReturn; its object branch is reached at
    // depth 1 both as XDoReturnObject and as x_do's variant XDoArgs2A, and the shorter name wins.
    expect(out).toContain("export type XDoReturn = string | XDoArgs2A | number[] | null;");
    expect(out).toContain("  never: XDoReturn2Never;\n  raw: Record<string, unknown>;");
    expect(out).toContain("export type XDoReturn2Never = never;");
    expect(out).toContain(
      'export type XDoArgs2 = ({ kind: "a" } & XDoArgs2Base & XDoArgs2A) | ({ kind: "b-c" } & XDoArgs2Base);',
    );
    expect(out).toContain('  /**\n   * @deprecated\n   * @unstable\n   */\n  "dotted.name"?: string;');
    expect(out).toContain(
      '/** Values that are deprecated: `old`. */\nexport type XDoArgs2ALevel = "on" | "old";',
    );
  });

  test("documents features and out-of-band support on commands and events", () => {
    expect(out).toContain('  /** @deprecated */\n  "x_do":');
    expect(out).toContain('  /** @unstable */\n  "x-do":');
    expect(out).toContain('  /** Supports out-of-band execution. */\n  "query-other":');
    expect(out).toContain(
      "  /**\n   * QAPI features: `json-cli`.\n   * @deprecated\n   */\n  OLD_EVENT: EmptyObject;",
    );
  });

  test("leaves out unreachable types and unknown meta-types", () => {
    expect(out).not.toContain("unused");
    expect(out).not.toContain("gizmo");
  });

  test("compiles under strict tsc", async () => {
    const dir = await mkdtemp(join(tmpdir(), "qmpkit-qapi-corner-"));
    try {
      await Bun.write(join(dir, "corner.ts"), out);
      await Bun.write(join(dir, "tsconfig.json"), JSON.stringify(strictTsconfig(["corner.ts"])));
      expect(await runTsc(join(dir, "tsconfig.json"))).toEqual({ exitCode: 0, output: "" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("names do not depend on how QEMU numbered the masked types", () => {
  test("renumbering every masked name gives the same file (QEMU 7.2 fixture)", async () => {
    const schema = await readSchemaFile(fixturePath);
    const reference = generateTypes(schema);
    const masked = schema.filter((e) => /^\d+$/.test(e.name)).map((e) => e.name);
    fc.assert(
      fc.property(
        fc.shuffledSubarray(masked, { minLength: masked.length, maxLength: masked.length }),
        (order) => {
          const rename = new Map(masked.map((name, i) => [name, order[i] ?? name]));
          expect(generateTypes(renameTypes(schema, rename))).toBe(reference);
        },
      ),
      { numRuns: 3 },
    );
  });
});

describe("schema helpers", () => {
  test("pascalCase", () => {
    expect(pascalCase("query-status")).toBe("QueryStatus");
    expect(pascalCase("BLOCK_JOB_READY")).toBe("BlockJobReady");
    expect(pascalCase("x-query-virtio")).toBe("XQueryVirtio");
    expect(pascalCase("qcow2")).toBe("Qcow2");
    expect(pascalCase("avg_rd_queue_depth")).toBe("AvgRdQueueDepth");
  });

  test("parseSchema and generateTypes reject malformed schemas with a QAPISchemaError", () => {
    expect(() => parseSchema({})).toThrow(QAPISchemaError);
    expect(() => parseSchema([{ name: "x" }])).toThrow('schema entry 0 ("x") has no string "meta-type"');
    expect(() => parseSchema([{ name: "c", "meta-type": "command", "arg-type": "0" }])).toThrow(
      'command "c": "ret-type" must be a string',
    );
    const dangling = parseSchema([{ name: "e", "meta-type": "event", "arg-type": "404" }]);
    expect(() => generateTypes(dangling)).toThrow('the schema refers to type "404" but does not define it');
    const twice = parseSchema([
      { name: "e", "meta-type": "event", "arg-type": "0" },
      { name: "e", "meta-type": "event", "arg-type": "0" },
    ]);
    expect(() => generateTypes(twice)).toThrow('duplicate schema entry "e"');
  });
});

/** The schema with type names replaced through `rename`, references included. */
function renameTypes(schema: readonly SchemaEntry[], rename: ReadonlyMap<string, string>): SchemaEntry[] {
  const r = (name: string): string => {
    const array = /^\[(.*)\]$/.exec(name);
    if (array?.[1] !== undefined) return `[${r(array[1])}]`;
    return rename.get(name) ?? name;
  };
  return schema.map((e): SchemaEntry => {
    switch (e["meta-type"]) {
      case "object":
        return {
          ...e,
          name: r(e.name),
          members: e.members.map((m) => ({ ...m, type: r(m.type) })),
          ...(e.variants === undefined
            ? {}
            : { variants: e.variants.map((v) => ({ ...v, type: r(v.type) })) }),
        };
      case "array":
        return { ...e, name: r(e.name), "element-type": r(e["element-type"]) };
      case "alternate":
        return { ...e, name: r(e.name), members: e.members.map((m) => ({ type: r(m.type) })) };
      case "command":
        return { ...e, "arg-type": r(e["arg-type"]), "ret-type": r(e["ret-type"]) };
      case "event":
        return { ...e, "arg-type": r(e["arg-type"]) };
      default:
        return { ...e, name: r(e.name) };
    }
  });
}
