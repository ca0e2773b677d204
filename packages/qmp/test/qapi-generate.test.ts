import { describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { readSchemaFile } from "../scripts/generate-types.ts";
import { generateTypes } from "../src/qapi/generate.ts";
import {
  enumValues,
  indexSchema,
  isOptional,
  lookupType,
  type ObjectEntry,
  OPEN_ARGUMENT_COMMANDS,
  type SchemaEntry,
  type SchemaIndex,
} from "../src/qapi/schema.ts";
import { runTsc, shippedTypes, strictTsconfig } from "./qapi-helpers.ts";

for (const shipped of shippedTypes) {
  const schema = await readSchemaFile(shipped.schemaPath);
  const index = indexSchema(schema);
  const committed = await Bun.file(shipped.typesPath).text();
  const file = `qemu-${shipped.tag}.ts`;

  describe(`generateTypes on the QEMU ${shipped.tag} fixture`, () => {
    test(`reproduces the committed ${file} byte for byte`, () => {
      const generated = generateTypes(schema, { qemuVersion: shipped.version });
      if (generated !== committed) {
        const a = generated.split("\n");
        const b = committed.split("\n");
        const line = a.findIndex((l, i) => l !== b[i]);
        throw new Error(
          `${file} is stale from line ${line + 1}:\n  generated: ${a[line]}\n  committed: ${b[line]}\n` +
            "regenerate: bun packages/qmp/scripts/generate-types.ts --schema " +
            `packages/testkit/fixtures/qemu-${shipped.tag}-schema.json --qemu-version ${shipped.version} ` +
            `--out packages/qmp/src/qapi/${file}`,
        );
      }
    });

    test("is deterministic: two runs give the same output", () => {
      expect(generateTypes(schema)).toBe(generateTypes(schema));
    });

    test("does not depend on the order of the schema entries", () => {
      const reference = generateTypes(schema);
      expect(generateTypes([...schema].reverse())).toBe(reference);
      fc.assert(
        fc.property(fc.infiniteStream(fc.nat()), (randoms) => {
          // Fisher-Yates driven by fast-check, so a failure shrinks and reports its seed.
          const shuffled = [...schema];
          const it = randoms[Symbol.iterator]();
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (it.next().value ?? 0) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j] as SchemaEntry, shuffled[i] as SchemaEntry];
          }
          expect(generateTypes(shuffled)).toBe(reference);
        }),
        { numRuns: 5 },
      );
    });

    test("marks deprecated and unstable commands, events and members with JSDoc tags", () => {
      const lines = committed.split("\n");
      const docAbove = (pattern: string): string => {
        const at = lines.indexOf(pattern);
        expect(at).toBeGreaterThan(0);
        const above: string[] = [];
        for (let i = at - 1; i >= 0 && /^\s*(\/\*\*|\*)/.test(lines[i] ?? ""); i--)
          above.push(lines[i] ?? "");
        return above.join("\n");
      };
      let checked = 0;
      for (const entry of schema) {
        if (entry["meta-type"] !== "command" && entry["meta-type"] !== "event") continue;
        const key = entry["meta-type"] === "command" ? JSON.stringify(entry.name) : entry.name;
        const line = lines.find((l) => l.startsWith(`  ${key}: `)) ?? "";
        const doc = docAbove(line);
        for (const tag of ["deprecated", "unstable"]) {
          expect(`${entry.name}: ${doc.includes(`@${tag}`)}`).toBe(
            `${entry.name}: ${entry.features?.includes(tag) ?? false}`,
          );
          checked++;
        }
      }
      expect(checked).toBe(2 * (index.commands.size + index.events.size));
      // Members: x-checkpoint-delay of migrate-set-parameters is unstable in 7.2 and 10.0.
      expect(committed).toMatch(/\/\*\* @unstable \*\/\n {2}"x-checkpoint-delay"\?: number;/);
    });

    test("every command and event appears with the right members and optionality (checked by tsc)", async () => {
      const dir = await mkdtemp(join(tmpdir(), "qmpkit-qapi-props-"));
      try {
        await Bun.write(join(dir, "qemu.ts"), committed);
        const { source, count } = optionalityAssertions(index);
        await Bun.write(join(dir, "assertions.ts"), source);
        await Bun.write(
          join(dir, "tsconfig.json"),
          JSON.stringify(strictTsconfig(["qemu.ts", "assertions.ts"])),
        );
        const result = await runTsc(join(dir, "tsconfig.json"));
        // tsc names only line numbers; show the failing assertions, whose comments say what was checked.
        const assertionLines = source.split("\n");
        const failed = [...result.output.matchAll(/assertions\.ts\((\d+),/g)].map(
          (m) => assertionLines[Number(m[1]) - 1],
        );
        expect(failed).toEqual([]);
        expect(result.output).toBe("");
        expect(result.exitCode).toBe(0);
        // Thousands of member checks, not a sample: every member of every command, return and event.
        expect(count).toBeGreaterThan(3000);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      // A tsc run over ~6,000 lines: ~1 s alone, several when the suite's files run in parallel.
    }, 30_000);
  });
}

/**
 * A TS file of type-level assertions, derived from the schema independently of the generator: the exact set of
 * command and event names, and for the arguments, return and data of each, the exact member names, each
 * member's optionality, and the type of members whose type is a builtin, an enum or an array of those. Flat
 * unions are checked arm by arm (`Extract` on the tag value, recursively for nested unions).
 */
function optionalityAssertions(index: SchemaIndex): { source: string; count: number } {
  const lines = [
    'import type { Commands, EmptyObject, Events } from "./qemu.ts";',
    "type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;",
    "type Expect<T extends true> = T;",
    "type IsOptional<T, K extends keyof T> = {} extends Pick<T, K> ? true : false;",
  ];
  let count = 0;
  const assert = (expr: string, what: string): void => {
    lines.push(`type A${count++} = Expect<${expr}>; // ${what}`);
  };
  const union = (names: string[]): string =>
    names.length === 0 ? "never" : names.map((n) => JSON.stringify(n)).join(" | ");

  assert(`Equal<keyof Commands, ${union([...index.commands.keys()])}>`, "command names");
  assert(`Equal<keyof Events, ${union([...index.events.keys()])}>`, "event names");

  const checkType = (expr: string, typeName: string, what: string): void => {
    let t = lookupType(index, typeName);
    let dims = "";
    while (t["meta-type"] === "array") {
      dims += "[number]";
      t = lookupType(index, t["element-type"]);
    }
    const simple = simpleType(index, typeName);
    if (simple !== undefined) {
      assert(`Equal<${expr}, ${simple}>`, what);
      return;
    }
    if (t["meta-type"] === "object") checkObject(`${expr}${dims}`, t, [], what);
  };

  const checkObject = (expr: string, t: ObjectEntry, inherited: string[], what: string): void => {
    if (t.members.length === 0 && inherited.length === 0 && (t.variants ?? []).length === 0) {
      assert(`Equal<${expr}, EmptyObject>`, `${what} is empty`);
      return;
    }
    if (t.tag !== undefined) {
      for (const v of t.variants ?? []) {
        const arm = `Extract<${expr}, { ${JSON.stringify(t.tag)}: ${JSON.stringify(v.case)} }>`;
        const variant = lookupType(index, v.type);
        if (variant["meta-type"] !== "object") throw new Error(`variant ${v.type} is not an object`);
        const own = t.members.filter((m) => m.name !== t.tag);
        checkMembers(arm, own, `${what} (${t.tag}=${v.case})`);
        assert(`Equal<${arm}[${JSON.stringify(t.tag)}], ${JSON.stringify(v.case)}>`, `${what} tag ${v.case}`);
        checkObject(
          arm,
          variant,
          [...inherited, ...t.members.map((m) => m.name)],
          `${what} (${t.tag}=${v.case})`,
        );
      }
      return;
    }
    checkMembers(expr, t.members, what);
    assert(
      `Equal<keyof ${expr}, ${union([...inherited, ...t.members.map((m) => m.name)])}>`,
      `${what} member names`,
    );
  };

  const checkMembers = (expr: string, members: ObjectEntry["members"], what: string): void => {
    for (const m of members) {
      const key = JSON.stringify(m.name);
      assert(
        `Equal<IsOptional<${expr}, ${key}>, ${isOptional(m)}>`,
        `${what}.${m.name} optional=${isOptional(m)}`,
      );
      const simple = simpleType(index, m.type);
      if (simple !== undefined)
        assert(`Equal<Exclude<${expr}[${key}], undefined>, ${simple}>`, `${what}.${m.name} type`);
    }
  };

  for (const [name, c] of index.commands) {
    const k = JSON.stringify(name);
    if (OPEN_ARGUMENT_COMMANDS.has(name)) {
      // Listed members exactly as the schema has them, and any unlisted property accepted as unknown.
      const listed = lookupType(index, c["arg-type"]) as ObjectEntry;
      const names = union(listed.members.map((m) => m.name));
      checkType(`Pick<Commands[${k}]["args"], ${names}>`, c["arg-type"], `${name} listed args`);
      assert(`Equal<Commands[${k}]["args"]["an-unlisted-property"], unknown>`, `${name} takes unlisted args`);
    } else {
      checkType(`Commands[${k}]["args"]`, c["arg-type"], `${name} args`);
    }
    checkType(`Commands[${k}]["returns"]`, c["ret-type"], `${name} returns`);
  }
  for (const [name, e] of index.events)
    checkType(`Events[${JSON.stringify(name)}]`, e["arg-type"], `${name} data`);
  // Guard against a vacuous oracle: a wrong claim must fail to compile.
  lines.push(
    "// @ts-expect-error query-status takes no arguments, so its args are not a string",
    'type Wrong = Expect<Equal<Commands["query-status"]["args"], string>>;',
  );
  return { source: `${lines.join("\n")}\n`, count };
}

/** The TS type of a builtin, an enum, or an array of those; undefined for anything with a generated name. */
function simpleType(index: SchemaIndex, typeName: string): string | undefined {
  const t = lookupType(index, typeName);
  switch (t["meta-type"]) {
    case "builtin":
      return (
        {
          string: "string",
          int: "number",
          number: "number",
          boolean: "boolean",
          null: "null",
          value: "unknown",
        } as Record<string, string>
      )[t["json-type"]];
    case "enum": {
      const values = enumValues(t);
      return values.length === 0 ? "never" : values.map((v) => JSON.stringify(v)).join(" | ");
    }
    case "array": {
      const element = simpleType(index, t["element-type"]);
      return element === undefined ? undefined : `(${element})[]`;
    }
    default:
      return undefined;
  }
}
