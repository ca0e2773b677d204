// diffSchemas on the real QEMU 7.2 -> 10.0 schemas (facts checked against QEMU's own changelogs and the
// recorded replies), and on small hand-made schemas for each kind of change.

import { describe, expect, test } from "bun:test";
import { readSchemaFile } from "../scripts/generate-types.ts";
import { describeChange, diffSchemas, formatSchemaDiff, type SchemaDiff } from "../src/qapi/diff.ts";
import type { SchemaEntry } from "../src/qapi/schema.ts";
import { shippedTypes } from "./qapi-helpers.ts";

const [v72, v100] = await Promise.all(shippedTypes.map((s) => readSchemaFile(s.schemaPath)));
const real = diffSchemas(v72 as SchemaEntry[], v100 as SchemaEntry[]);

function changesOf(diff: SchemaDiff, name: string): string[] {
  const entry = [...diff.commands.changed, ...diff.events.changed].find((e) => e.name === name);
  return (entry?.changes ?? []).map(describeChange);
}

describe("QEMU 7.2 -> 10.0", () => {
  test("commands and events added and removed", () => {
    expect(real.commands.added).toHaveLength(19);
    expect(real.commands.added).toContain("query-audiodevs");
    expect(real.commands.added).toContain("blockdev-set-active");
    expect(real.commands.removed).toEqual(["x-query-profile", "x-query-rdma"]);
    expect(real.events.added).toContain("VFIO_MIGRATION");
    expect(real.events.removed).toEqual(["MEM_UNPLUG_ERROR", "RDMA_GID_STATUS_CHANGED"]);
  });

  test("query-status lost singlestep, and nothing else changed in it", () => {
    expect(changesOf(real, "query-status")).toEqual(["return: member removed: singlestep (bool)"]);
  });

  test("trace-event-get-state lost vcpu in its arguments and its return", () => {
    expect(changesOf(real, "trace-event-get-state")).toEqual([
      "arguments: member removed: vcpu (int?)",
      "return[]: member removed: vcpu (bool)",
    ]);
  });

  test("migrate: uri became optional, channels arrived, blk and inc went", () => {
    const migrate = changesOf(real, "migrate");
    expect(migrate).toContain("arguments.uri: made optional");
    expect(migrate).toContain("arguments: member added: channels (object[]?)");
    expect(migrate).toContain("arguments: member removed: blk (bool?)");
    expect(migrate).toContain("arguments: member removed: inc (bool?)");
  });

  test("features: a member that became deprecated, inside a flat union's branch", () => {
    expect(changesOf(real, "chardev-add")).toContain(
      "arguments.backend{type=socket}.data.reconnect: feature added: deprecated",
    );
  });

  test("the reverse diff swaps what was added and removed", () => {
    const back = diffSchemas(v100 as SchemaEntry[], v72 as SchemaEntry[]);
    expect(back.commands.added).toEqual(real.commands.removed);
    expect(back.commands.removed).toEqual(real.commands.added);
    expect(changesOf(back, "query-status")).toEqual(["return: member added: singlestep (bool)"]);
  });

  test("formatSchemaDiff opens with the counts", () => {
    const text = formatSchemaDiff(real, { from: "7.2", to: "10.0" });
    const c = real.commands;
    expect(text.split("\n")[0]).toBe(
      `7.2 -> 10.0: commands +19 -2 ~${c.changed.length}, events +5 -2 ~${real.events.changed.length}`,
    );
    expect(text).toContain("\n~ command query-status\n    return: member removed: singlestep (bool)\n");
  });
});

describe("diffSchemas", () => {
  test("a schema against itself, and against a copy with other masked names, has no differences", () => {
    const empty = { added: [], removed: [], changed: [] };
    expect(diffSchemas(v72 as SchemaEntry[], v72 as SchemaEntry[])).toEqual({
      commands: empty,
      events: empty,
    });
    // Masks are arbitrary per build: renaming every masked type must not show up as a change.
    const renamed = renameMaskedTypes(v72 as SchemaEntry[]);
    expect(renamed.filter((e, i) => e.name !== v72?.[i]?.name).length).toBeGreaterThan(500);
    expect(diffSchemas(v72 as SchemaEntry[], renamed)).toEqual({ commands: empty, events: empty });
  });

  const base: SchemaEntry[] = [
    { name: "str", "meta-type": "builtin", "json-type": "string" },
    { name: "int", "meta-type": "builtin", "json-type": "int" },
    { name: "0", "meta-type": "object", members: [] },
    {
      name: "1",
      "meta-type": "object",
      members: [
        { name: "a", type: "int" },
        { name: "b", type: "str", default: null },
      ],
    },
    { name: "2", "meta-type": "alternate", members: [{ type: "int" }, { type: "str" }] },
    { name: "3", "meta-type": "object", members: [{ name: "x", type: "2", default: null }] },
    { name: "go", "meta-type": "command", "arg-type": "1", "ret-type": "0" },
    { name: "alt", "meta-type": "command", "arg-type": "3", "ret-type": "0" },
    { name: "EV", "meta-type": "event", "arg-type": "1" },
  ];
  const edit = (f: (s: Map<string, SchemaEntry>) => void): SchemaEntry[] => {
    const m = new Map(base.map((e) => [e.name, structuredClone(e)]));
    f(m);
    return [...m.values()];
  };

  test("type, optionality, features and oob of a command", () => {
    const next = edit((m) => {
      m.set("1", {
        name: "1",
        "meta-type": "object",
        members: [
          { name: "a", type: "str", features: ["deprecated"] },
          { name: "b", type: "str" },
        ],
      });
      m.set("go", {
        name: "go",
        "meta-type": "command",
        "arg-type": "1",
        "ret-type": "0",
        "allow-oob": true,
        features: ["unstable"],
      });
    });
    expect(changesOf(diffSchemas(base, next), "go")).toEqual([
      "(itself): feature added: unstable",
      "(itself): oob changed (false -> true)",
      "arguments.a: feature added: deprecated",
      "arguments.a: type changed (int -> str)",
      "arguments.b: made required",
    ]);
    // The event shares the type: its data changed the same way, under `data`.
    expect(changesOf(diffSchemas(base, next), "EV")[0]).toBe("data.a: feature added: deprecated");
  });

  test("an alternate that gains or loses a branch is a type change", () => {
    const next = edit((m) => {
      m.set("2", { name: "2", "meta-type": "alternate", members: [{ type: "str" }] });
    });
    expect(changesOf(diffSchemas(base, next), "alt")).toEqual([
      "arguments.x: type changed (int | str -> str)",
    ]);
  });
});

/** The schema with every masked type name `"N"` (and array name `"[N]"`) renumbered, references included. */
function renameMaskedTypes(schema: readonly SchemaEntry[]): SchemaEntry[] {
  const rename = (name: string): string =>
    name.replace(
      /^(\[?)(\d+)(\]?)$/,
      (_, open: string, n: string, close: string) => `${open}${Number(n) + 100000}${close}`,
    );
  const typeKeys = new Set(["type", "arg-type", "ret-type", "element-type"]);
  const walk = (value: unknown, key?: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => walk(v));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    }
    return typeof value === "string" && key !== undefined && typeKeys.has(key) ? rename(value) : value;
  };
  return schema.map((entry) => {
    const copy = walk(entry) as SchemaEntry;
    return entry["meta-type"] === "command" || entry["meta-type"] === "event"
      ? copy
      : ({ ...copy, name: rename(entry.name) } as SchemaEntry);
  });
}
