/**
 * The recorded schema read entry by entry (`SchemaText`) must answer exactly as the whole schema parsed and
 * indexed does: for every entry of both recorded QEMUs, for names that are only member or enum-value names, and
 * through `QAPISchema`'s argument checks, whose error texts are what clients see.
 */
import { describe, expect, test } from "bun:test";
import { Dispatcher } from "../src/dispatch/dispatcher.ts";
import { QAPISchema, type SchemaEntry } from "../src/dispatch/schema-args.ts";
import { SchemaText } from "../src/dispatch/schema-text.ts";
import { loadProfile, PROFILE_VERSIONS } from "../src/index.ts";
import { MACHINES, PROFILE_FILES } from "../src/profiles/files.ts";
import { PackedProfile } from "../src/profiles/pack.ts";
import { encodeQemuJson } from "../src/qjson.ts";

/** A SchemaText that counts whole-schema parses. */
class CountingText extends SchemaText {
  wholeParses = 0;
  override entries(): SchemaEntry[] {
    this.wholeParses++;
    return super.entries();
  }
}

async function recordedText(qemuVersion: (typeof PROFILE_VERSIONS)[number]): Promise<string> {
  return (await loadProfile({ qemuVersion, machine: "none" })).schemaText().text;
}

/** The recorded schema read from its text, or through the packed profile's entry index (as a fake reads it). */
async function lazyText(
  qemuVersion: (typeof PROFILE_VERSIONS)[number],
  source: "text" | "index",
): Promise<CountingText> {
  const text = await recordedText(qemuVersion);
  if (source === "text") return new CountingText(text);
  const path = PROFILE_FILES[qemuVersion]?.none as string;
  const layout = new PackedProfile(await Bun.file(path).bytes()).schemaLayout();
  if (layout === undefined) throw new Error(`${path} has no schema index`);
  return new CountingText({ text: () => text, entryText: (name) => layout.entryText(name) });
}

/** Every `name` of an object nested in an entry (members, enum members), not the entries' own names. */
function nestedNames(entries: readonly SchemaEntry[]): Set<string> {
  const names = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) for (const item of value) walk(item);
    else if (typeof value === "object" && value !== null) {
      const name = (value as { name?: unknown }).name;
      if (typeof name === "string") names.add(name);
      for (const member of Object.values(value)) walk(member);
    }
  };
  for (const entry of entries) for (const member of Object.values(entry)) walk(member);
  return names;
}

/** Argument shapes that reach every kind of check: missing, unexpected, wrong type, bad enum value, nesting. */
function argumentShapes(schema: QAPISchema, command: string): Record<string, unknown>[] {
  const entry = schema.command(command);
  const argType = schema.entries.find((e) => e.name === entry?.["arg-type"]) as
    | { members?: { name: string }[] }
    | undefined;
  const values: unknown[] = [1, 1.5, "x", true, null, [], ["x"], [1], [{}], {}, { bogus: 1 }];
  const shapes: Record<string, unknown>[] = [{}, { "qmpkit-bogus": 1 }];
  for (const member of argType?.members ?? []) {
    for (const value of values) shapes.push({ [member.name]: value });
  }
  return shapes;
}

for (const qemuVersion of PROFILE_VERSIONS) {
  describe(`QEMU ${qemuVersion}'s recorded schema read entry by entry`, () => {
    test("every entry is found by its name and equals the full parse's", async () => {
      const text = await recordedText(qemuVersion);
      const entries = JSON.parse(text) as SchemaEntry[];
      const lazy = new CountingText(text);
      for (const entry of entries) expect(lazy.entry(entry.name)).toEqual(entry);
      expect(lazy.wholeParses).toBe(0);
    });

    test("the packed profile's entry index finds every entry, from its own bytes, without the whole text", async () => {
      const text = await recordedText(qemuVersion);
      const entries = JSON.parse(text) as SchemaEntry[];
      for (const machine of MACHINES) {
        const path = PROFILE_FILES[qemuVersion]?.[machine] as string;
        const packed = new PackedProfile(await Bun.file(path).bytes());
        const layout = packed.schemaLayout();
        expect(layout).toBeDefined();
        let wholeTexts = 0;
        const indexed = new CountingText({
          text: () => {
            wholeTexts++;
            return text;
          },
          entryText: (name) => layout?.entryText(name),
        });
        for (const entry of entries) expect(indexed.entry(entry.name)).toEqual(entry);
        expect([indexed.wholeParses, wholeTexts]).toEqual([0, 0]);
        expect(indexed.text).toBe(text);
      }
    });

    for (const source of ["text", "index"] as const) {
      test(`a name only members, enum values or variants have, a prefix, or an odd spelling finds nothing (${source})`, async () => {
        const text = await recordedText(qemuVersion);
        const entries = JSON.parse(text) as SchemaEntry[];
        const top = new Set(entries.map((e) => e.name));
        const onlyNested = [...nestedNames(entries)].filter((name) => !top.has(name));
        expect(onlyNested.length).toBeGreaterThan(100);
        const lazy = await lazyText(qemuVersion, source);
        const odd = [
          "",
          "query-statu",
          "query-status ",
          'query-status", "x',
          "query\\status",
          "bench-events",
          "query-status\t1",
          "0\t0",
          "\nquery-status",
          "query-status\n",
          // Before the first and after the last name in byte order, and past a name's end.
          "!",
          "~",
          "\u00ff",
          "\u0100query-status",
          "query-status-x",
        ];
        for (const name of [...onlyNested, ...odd]) expect(lazy.entry(name)).toBeUndefined();
        // Asked again, from what the first look-up found.
        expect(lazy.entry("query-status")).toEqual(entries.find((e) => e.name === "query-status"));
        expect(lazy.entry("query-statu")).toBeUndefined();
        expect(lazy.wholeParses).toBe(0);
      });
    }

    for (const source of ["text", "index"] as const) {
      test(`QAPISchema over the ${source} checks arguments with the same errors as over the parsed entries`, async () => {
        const text = await recordedText(qemuVersion);
        const whole = new QAPISchema(JSON.parse(text) as SchemaEntry[]);
        const counting = await lazyText(qemuVersion, source);
        const lazy = new QAPISchema(counting);
        let checks = 0;
        for (const command of whole.commandNames()) {
          expect(lazy.command(command)).toEqual(whole.command(command));
          for (const args of argumentShapes(whole, command)) {
            expect([command, lazy.checkArguments(command, args)]).toEqual([
              command,
              whole.checkArguments(command, args),
            ]);
            checks++;
          }
        }
        expect(checks).toBeGreaterThan(2000);
        expect(lazy.command("query-qmp-schema-no-such")).toBeUndefined();
        // A type's name is not a command's.
        expect(lazy.command("str")).toBeUndefined();
        expect(counting.wholeParses).toBe(0);
        // What needs the whole schema still has it.
        expect(lazy.commandNames()).toEqual(whole.commandNames());
        expect(lazy.entries).toEqual(whole.entries);
      });
    }

    test("query-qmp-schema's reply is QEMU's text, byte for byte, without parsing it", async () => {
      const text = await recordedText(qemuVersion);
      const counting = new CountingText(text);
      expect(new QAPISchema(counting).json()).toBe(text);
      expect(counting.wholeParses).toBe(0);
      // The same bytes as the reply encoded from the parsed entries, as the fake served it before.
      expect(encodeQemuJson(JSON.parse(text))).toBe(text);
      expect(new QAPISchema(JSON.parse(text) as SchemaEntry[]).json()).toBe(text);
    });
  });
}

test("an entry's end is found past brackets, braces and escaped quotes inside strings", () => {
  const entries: SchemaEntry[] = [
    { name: "[a]", "meta-type": "array", "element-type": "a" },
    { name: "s", "meta-type": "object", members: [{ name: 'x"}]', type: "[a]", features: ["{", "\\"] }] },
    { name: "a", "meta-type": "enum", values: ['\\"', "}"], members: [{ name: "c" }] },
    { name: "c", "meta-type": "command", "arg-type": "s", "ret-type": "[a]" },
  ];
  const text = encodeQemuJson(entries);
  const lazy = new CountingText(text);
  for (const entry of entries) expect(lazy.entry(entry.name)).toEqual(entry);
  expect(lazy.entry('x"}]')).toBeUndefined();
  expect(lazy.wholeParses).toBe(0);
});

test("the first commands of a session parse only the entries they reach", async () => {
  const counting = await lazyText("7.2", "index");
  const schema = new QAPISchema(counting);
  expect(schema.checkArguments("qmp_capabilities", {})).toBeUndefined();
  expect(schema.checkArguments("qmp_capabilities", { enable: ["bogus"] })).toBe(
    "Parameter 'null' does not accept value 'bogus'",
  );
  expect(schema.checkArguments("query-status", { foo: 1 })).toBe("Parameter 'foo' is unexpected");
  expect(counting.wholeParses).toBe(0);
});

test("fake.handle() does not make the schema; the first command that needs it does", () => {
  let made = 0;
  const dispatcher = new Dispatcher({
    schema: () => {
      made++;
      return undefined;
    },
    recordedCommands: [],
    vm: { commandHandler: () => undefined, commandNames: () => [] },
    offered: ["oob"],
    version: { qemu: { major: 7, minor: 2, micro: 22 }, package: "" },
    benchCommands: false,
    fake: undefined,
    emit: () => {},
    reportError: () => {},
  });
  dispatcher.handle("query-jobs", () => []);
  dispatcher.handle("query-migrate", () => ({}), { allowOob: true });
  expect(made).toBe(0);
  dispatcher.commandList();
  expect(made).toBe(1);
});
