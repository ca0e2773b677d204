import { describe, expect, test } from "bun:test";
import { loadSchema, suggestNames } from "../src/schema.ts";
import { renderSchemaEntry, renderSchemaList, renderSchemaPath, renderType } from "../src/schema-view.ts";
import { qemuSchema, tinySchema } from "./schema-fixture.ts";

describe("renderSchemaList", () => {
  test("lists commands then events, sorted, with features", () => {
    expect(renderSchemaList(tinySchema)).toBe(
      [
        "commands (4):",
        "  deep",
        "  list-things",
        "  node-add  [unstable]",
        "  ping",
        "",
        "events (2):",
        "  QUIET",
        "  THING_HAPPENED",
      ].join("\n"),
    );
  });

  test("filters by kind and by text", () => {
    expect(renderSchemaList(tinySchema, { kind: "event", filter: "thing" })).toBe(
      "events (1):\n  THING_HAPPENED",
    );
    expect(renderSchemaList(tinySchema, { kind: "command", filter: "zzz" })).toBe("commands (0):");
  });

  test("the recorded QEMU 7.2 schema has its 216 commands and 52 events", async () => {
    const text = renderSchemaList(await qemuSchema());
    expect(text).toContain("commands (216):\n  add-fd\n");
    expect(text).toContain("events (52):\n  ACPI_DEVICE_OST\n");
    expect(text).toContain("\n  drive-backup  [deprecated]\n");
  });
});

describe("renderSchemaEntry", () => {
  test("a command with a flat union argument, variants grouped, recursion cut", () => {
    expect(renderSchemaEntry(tinySchema, "node-add")).toBe(
      [
        "command node-add  [unstable]",
        "arguments: {",
        '  driver: "file" | "host" | "wrap" | "null";',
        "  name?: string;",
        '  // when driver is "file" | "host":',
        "  filename: string;",
        "  size?: int; // deprecated",
        '  // when driver is "wrap":',
        "  inner: { … /* recursive */ } | string;",
        "}",
        "returns: {}",
      ].join("\n"),
    );
  });

  test("no arguments, out-of-band", () => {
    expect(renderSchemaEntry(tinySchema, "ping")).toBe(
      "command ping\narguments: none\nreturns: {}\nallows out-of-band execution",
    );
  });

  test("arrays of objects and of enums", () => {
    expect(renderSchemaEntry(tinySchema, "list-things")).toBe(
      [
        "command list-things",
        "arguments: none",
        "returns: {",
        "  id: string;",
        "  tags: string[];",
        '  mode?: Array<"file" | "host" | "wrap" | "null">;',
        "}[]",
      ].join("\n"),
    );
  });

  test("events show their data", () => {
    expect(renderSchemaEntry(tinySchema, "QUIET")).toBe("event QUIET\ndata: none");
    expect(renderSchemaEntry(tinySchema, "THING_HAPPENED")?.split("\n").slice(0, 3)).toEqual([
      "event THING_HAPPENED",
      "data: {",
      "  id: string;",
    ]);
  });

  test("the depth cap shows { … }", () => {
    expect(renderSchemaEntry(tinySchema, "deep", { maxDepth: 2 })).toBe(
      ["command deep", "arguments: {", "  a: {", "    b: { … };", "  };", "}", "returns: {}"].join("\n"),
    );
  });

  test("long enums break onto one line per value", () => {
    expect(renderType(tinySchema, "11", { width: 20 })).toBe(
      '\n  | "file"\n  | "host"\n  | "wrap"\n  | "null"',
    );
    expect(renderType(tinySchema, "[11]", { width: 20 })).toBe(
      'Array<\n  | "file"\n  | "host"\n  | "wrap"\n  | "null"\n>',
    );
  });

  test("unknown names give undefined; suggestions are close names", () => {
    expect(renderSchemaEntry(tinySchema, "nope")).toBeUndefined();
    expect(suggestNames(tinySchema, "pnig")).toEqual(["ping"]);
    expect(suggestNames(tinySchema, "node")).toEqual(["node-add"]);
  });

  test("query-status from QEMU 7.2", async () => {
    const text = renderSchemaEntry(await qemuSchema(), "query-status") ?? "";
    expect(text.split("\n").slice(0, 8)).toEqual([
      "command query-status",
      "arguments: none",
      "returns: {",
      "  running: boolean;",
      "  singlestep: boolean;",
      "  status:",
      '    | "debug"',
      '    | "inmigrate"',
    ]);
    expect(text.endsWith('    | "colo";\n}')).toBe(true);
  });

  test("blockdev-add from QEMU 7.2 expands variants and stops at its recursive references", async () => {
    const text = renderSchemaEntry(await qemuSchema(), "blockdev-add") ?? "";
    expect(text).toContain(
      '  // when driver is "file" | "host_cdrom" | "host_device":\n  filename: string;\n',
    );
    expect(text).toContain("  file: { … /* recursive */ } | string;\n");
  });
});

describe("loadSchema (the client's parseSchema + indexSchema)", () => {
  test.each([
    [{}, "a QAPI schema must be a JSON array of entries"],
    [[{ name: "x" }], 'schema entry 0 ("x") has no string "meta-type"'],
    [[null], "schema entry 0 is not an object"],
  ])("rejects %j", (raw, message) => {
    expect(() => loadSchema(raw)).toThrow(message);
  });
});

describe("renderSchemaPath: a union branch, a member's type", () => {
  test("NAME.BRANCH: shared members, the tag fixed, that case's members", () => {
    expect(renderSchemaPath(tinySchema, "node-add.file")).toBe(
      'node-add.file: {\n  driver: "file";\n  name?: string;\n  filename: string;\n  size?: int; // deprecated\n}',
    );
  });

  test("NAME.MEMBER, chained, through an alternate to its object branch", () => {
    expect(renderSchemaPath(tinySchema, "deep.a.b")).toBe("deep.a.b: {\n  c: any;\n}");
    expect(renderSchemaPath(tinySchema, "node-add.wrap.inner.null")).toBe(
      'node-add.wrap.inner.null: {\n  driver: "null";\n  name?: string;\n}',
    );
  });

  test("the recorded QEMU schema: blockdev-add.qcow2.cache", async () => {
    expect(renderSchemaPath(await qemuSchema(), "blockdev-add.qcow2.cache")).toBe(
      "blockdev-add.qcow2.cache: {\n  direct?: boolean;\n  no-flush?: boolean;\n}",
    );
  });

  test("a plain NAME is renderSchemaEntry; an unknown head is undefined; a bad segment says what there is", () => {
    expect(renderSchemaPath(tinySchema, "ping")).toBe(renderSchemaEntry(tinySchema, "ping") as string);
    expect(renderSchemaPath(tinySchema, "nosuch.x")).toBeUndefined();
    expect(renderSchemaPath(tinySchema, "node-add.zip")).toEqual({
      error:
        "'node-add' has no member or branch 'zip' (members: driver, name; driver branches: file, host, wrap, null)",
    });
    expect(renderSchemaPath(tinySchema, "deep.a.b.c.d")).toEqual({
      error: "'deep.a.b.c' is not an object: it has no 'd'",
    });
  });
});
