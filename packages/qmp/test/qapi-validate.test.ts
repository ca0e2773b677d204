import { describe, expect, test } from "bun:test";
import { readSchemaFile } from "../scripts/generate-types.ts";
import { indexSchema } from "../src/qapi/schema.ts";
import {
  formatValidationProblems,
  type ValidationProblemKind,
  validateArguments,
  validateValue,
} from "../src/qapi/validate.ts";
import { fixturePath } from "./qapi-helpers.ts";

const index = indexSchema(await readSchemaFile(fixturePath));

interface Row {
  readonly command: string;
  readonly args: unknown;
  /** Expected problems as `kind path`, in order; empty for valid arguments. */
  readonly problems: readonly string[];
  /** Substrings the messages must contain (bad member, valid members or values, suggestion). */
  readonly mentions?: readonly string[];
}

// Every row runs against the recorded QEMU 7.2 schema, so the expectations are QEMU's real rules.
const rows: readonly Row[] = [
  // No arguments.
  { command: "query-status", args: undefined, problems: [] },
  { command: "query-status", args: {}, problems: [] },
  {
    command: "query-status",
    args: { verbose: true },
    problems: ["unknown-member verbose"],
    mentions: ['unknown member "verbose" in the arguments', "no members are allowed"],
  },
  {
    command: "query-status",
    args: [],
    problems: ["wrong-type "],
    mentions: ["the arguments must be an object, got []"],
  },
  { command: "query-status", args: null, problems: ["wrong-type "] },

  // Plain objects: required, unknown and typos.
  { command: "blockdev-del", args: { "node-name": "disk0" }, problems: [] },
  { command: "blockdev-del", args: { "node-name": "disk0", extra: undefined }, problems: [] },
  {
    command: "blockdev-del",
    args: {},
    problems: ["missing-member node-name"],
    mentions: ['missing required member "node-name" in the arguments'],
  },
  {
    command: "blockdev-del",
    args: { node_name: "disk0" },
    problems: ["missing-member node-name", "unknown-member node_name"],
    mentions: ['unknown member "node_name"', 'did you mean "node-name"?', "valid members: node-name"],
  },
  {
    command: "blockdev-del",
    args: { "node-name": 42 },
    problems: ["wrong-type node-name"],
    mentions: ['"node-name" must be a string, got 42'],
  },

  // Integers and any.
  { command: "balloon", args: { value: 1 << 30 }, problems: [] },
  {
    command: "balloon",
    args: { value: 1.5 },
    problems: ["wrong-type value"],
    mentions: ["must be an integer, got 1.5"],
  },
  { command: "balloon", args: { value: "1G" }, problems: ["wrong-type value"] },
  {
    command: "qom-set",
    args: { path: "/machine", property: "p", value: { any: ["thing", null] } },
    problems: [],
  },

  // Flat unions: members depend on the tag.
  { command: "blockdev-add", args: { driver: "file", "node-name": "d", filename: "/tmp/x" }, problems: [] },
  {
    command: "blockdev-add",
    args: { driver: "file", filename: "/tmp/x", bogus: 1 },
    problems: ["unknown-member bogus"],
    mentions: ['unknown member "bogus" in the arguments for driver "file"', "filename", "node-name", "aio"],
  },
  {
    command: "blockdev-add",
    args: { driver: "file", filname: "/tmp/x" },
    problems: ["missing-member filename", "unknown-member filname"],
    mentions: [
      'missing required member "filename" in the arguments for driver "file"',
      'did you mean "filename"?',
    ],
  },
  {
    command: "blockdev-add",
    args: { driver: "filex", filename: "/tmp/x" },
    // An invalid tag hides the variant, so "filename" is not reported as unknown.
    problems: ["invalid-value driver"],
    mentions: ['"driver" must be one of', '"file"', '"qcow2"', 'got "filex"', 'did you mean "file"?'],
  },
  { command: "blockdev-add", args: { filename: "/tmp/x" }, problems: ["missing-member driver"] },
  {
    command: "blockdev-add",
    args: { driver: "file", filename: "/tmp/x", aio: "fast" },
    problems: ["invalid-value aio"],
    mentions: ['"aio" must be one of "threads", "native", "io_uring"; got "fast"'],
  },
  {
    command: "blockdev-add",
    args: { driver: "file", filename: "/tmp/x", cache: { direct: "yes" } },
    problems: ["wrong-type cache.direct"],
    mentions: ['"cache.direct" must be a boolean, got "yes"'],
  },
  {
    command: "blockdev-add",
    args: { driver: "file", filename: "/tmp/x", cache: { direkt: true } },
    problems: ["unknown-member cache.direkt"],
    mentions: ['unknown member "direkt" in "cache"', "valid members: direct, no-flush"],
  },

  // Alternates: the branch is picked by JSON type, then checked.
  { command: "blockdev-add", args: { driver: "qcow2", "node-name": "q", file: "disk0" }, problems: [] },
  { command: "blockdev-add", args: { driver: "qcow2", file: "disk0", backing: null }, problems: [] },
  {
    command: "blockdev-add",
    args: { driver: "qcow2", file: { driver: "file", filename: "/tmp/x" } },
    problems: [],
  },
  {
    command: "blockdev-add",
    args: { driver: "qcow2", file: 42 },
    problems: ["wrong-type file"],
    mentions: ['"file" must be an object or a string, got 42'],
  },
  {
    command: "blockdev-add",
    args: { driver: "qcow2", file: { driver: "file" } },
    problems: ["missing-member file.filename"],
    mentions: ['missing required member "filename" in "file" for driver "file"'],
  },

  // Arrays.
  {
    command: "block-dirty-bitmap-merge",
    args: { node: "n", target: "t", bitmaps: ["a", { node: "m", name: "b" }] },
    problems: [],
  },
  {
    command: "block-dirty-bitmap-merge",
    args: { node: "n", target: "t", bitmaps: "a" },
    problems: ["wrong-type bitmaps"],
    mentions: ['"bitmaps" must be an array, got "a"'],
  },
  {
    command: "block-dirty-bitmap-merge",
    args: { node: "n", target: "t", bitmaps: ["a", 7, { node: "m" }] },
    problems: ["wrong-type bitmaps[1]", "missing-member bitmaps[2].name"],
  },

  // Unknown command.
  {
    command: "query-stauts",
    args: {},
    problems: ["unknown-command "],
    mentions: ['no command "query-stauts"', 'did you mean "query-stats" or "query-status"?'],
  },
];

describe("validateArguments against the QEMU 7.2 schema", () => {
  test.each(rows.map((row) => [`${row.command} ${JSON.stringify(row.args) ?? "undefined"}`, row] as const))(
    "%s",
    (_name, row) => {
      const problems = validateArguments(index, row.command, row.args);
      expect(problems.map((p) => `${p.kind} ${p.path}`)).toEqual([...row.problems]);
      const text = problems.map((p) => p.message).join("\n");
      for (const mention of row.mentions ?? []) expect(text).toContain(mention);
    },
  );

  test("device_add takes device properties the schema does not list, but its listed members are still checked", () => {
    expect(
      validateArguments(index, "device_add", { driver: "virtio-net-pci", id: "nic0", netdev: "n0" }),
    ).toEqual([]);
    expect(
      validateArguments(index, "device_add", { netdev: "n0" }).map((p) => `${p.kind} ${p.path}`),
    ).toEqual(["missing-member driver"]);
    expect(validateArguments(index, "device_add", { driver: 5 }).map((p) => `${p.kind} ${p.path}`)).toEqual([
      "wrong-type driver",
    ]);
    // Only device_add is open: its neighbour device_del still refuses strangers.
    expect(validateArguments(index, "device_del", { id: "nic0", force: true }).map((p) => p.kind)).toEqual([
      "unknown-member",
    ]);
  });

  test("unknown members carry the valid list and the suggestion as data, not only as text", () => {
    const [problem] = validateArguments(index, "blockdev-del", { nodename: "d", "node-name": "d" });
    expect(problem?.kind).toBe("unknown-member" satisfies ValidationProblemKind);
    expect(problem?.valid).toEqual(["node-name"]);
    expect(problem?.suggestions).toEqual(["node-name"]);
  });

  test("enum problems list every valid value", () => {
    const [problem] = validateArguments(index, "blockdev-add", { driver: "nope" });
    expect(problem?.valid).toContain("qcow2");
    expect(problem?.valid?.length).toBe(42);
    expect(problem?.suggestions).toBeUndefined();
  });

  test("validateValue checks builtins by name", () => {
    expect(validateValue(index, "number", 1.5)).toEqual([]);
    expect(validateValue(index, "number", Number.NaN).map((p) => p.kind)).toEqual(["wrong-type"]);
    expect(validateValue(index, "int", 2 ** 60)).toEqual([]);
    expect(validateValue(index, "str", "x", "root")).toEqual([]);
    expect(validateValue(index, "bool", 0, "flag")[0]?.message).toBe('"flag" must be a boolean, got 0');
  });
});

describe("formatValidationProblems", () => {
  test("one problem reads as one line", () => {
    const problems = validateArguments(index, "blockdev-del", { "node-name": 1 });
    expect(formatValidationProblems("blockdev-del", problems)).toBe(
      'Invalid arguments for "blockdev-del": "node-name" must be a string, got 1',
    );
  });

  test("several problems are listed one per line", () => {
    const problems = validateArguments(index, "blockdev-add", { driver: "file", filname: "/x", aio: 3 });
    expect(formatValidationProblems("blockdev-add", problems)).toBe(
      [
        'Invalid arguments for "blockdev-add": 3 problems',
        '  - missing required member "filename" in the arguments for driver "file"',
        '  - "aio" must be a string, got 3',
        `  - unknown member "filname" in the arguments for driver "file" (did you mean "filename"?); valid members: ${[
          "driver",
          "node-name",
          "discard",
          "cache",
          "read-only",
          "auto-read-only",
          "force-share",
          "detect-zeroes",
          "filename",
          "pr-manager",
          "locking",
          "aio",
          "aio-max-batch",
          "drop-cache",
          "x-check-cache-dropped",
        ].join(", ")}`,
      ].join("\n"),
    );
  });
});
