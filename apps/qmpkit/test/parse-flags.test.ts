import { describe, expect, test } from "bun:test";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import fc from "fast-check";
import { COMMON_FLAGS, type FlagSpec } from "../src/cli.ts";
import { COMMANDS } from "../src/commands/index.ts";
import { type FlagOptions, type ParsedFlags, parseFlags } from "../src/parse-flags.ts";

// More runs under CI, where time is budgeted for it; QMPKIT_PROPERTY_RUNS overrides both.
const runs = Number(process.env.QMPKIT_PROPERTY_RUNS ?? (process.env.CI === "true" ? 2000 : 500));

/** The options parseCommandArgs hands the parser for each command. */
const commandOptions: [string, FlagOptions][] = COMMANDS.map((spec) => [
  spec.name,
  Object.fromEntries(
    Object.entries<FlagSpec>({ ...COMMON_FLAGS, ...spec.flags }).map(([name, { type, short, multiple }]) => [
      name,
      { type, ...(short === undefined ? {} : { short }), ...(multiple === undefined ? {} : { multiple }) },
    ]),
  ),
]);

/** What no command has yet: one-letter long names, repeatable flags of both types, two flags on one letter. */
const odd: FlagOptions = {
  v: { type: "boolean" },
  x: { type: "string" },
  all: { type: "boolean", short: "a", multiple: true },
  name: { type: "string", short: "N", multiple: true },
  dup: { type: "boolean", short: "d" },
  "dup-too": { type: "string", short: "d" },
  é: { type: "boolean", short: "é" },
  "with=equals": { type: "string" },
};

type Outcome =
  | { ok: true; values: Record<string, unknown>; prototype: unknown; positionals: string[] }
  | { ok: false; typeError: boolean; name: string; code: unknown; message: string };

function outcome(parse: () => ParsedFlags): Outcome {
  try {
    const { values, positionals } = parse();
    return { ok: true, values: { ...values }, prototype: Object.getPrototypeOf(values), positionals };
  } catch (error) {
    const e = error as Error & { code?: unknown };
    return { ok: false, typeError: e instanceof TypeError, name: e.name, code: e.code, message: e.message };
  }
}

function expectSameAsUtil(args: string[], options: FlagOptions): void {
  const ours = outcome(() => parseFlags(args, options));
  const util = outcome(
    () =>
      parseArgs({
        args: [...args],
        options: options as ParseArgsOptionsConfig,
        strict: true,
        allowPositionals: true,
      }) as ParsedFlags,
  );
  expect(ours).toEqual(util);
}

/** Words a user might type against `options`: its flags in every spelling, groups, odd values, anything. */
function word(options: FlagOptions): fc.Arbitrary<string> {
  const names = Object.keys(options);
  const letters = [
    ...new Set(names.flatMap((n) => [options[n]?.short ?? "", n.length === 1 ? n : ""])),
  ].filter((l) => l !== "");
  const value = fc.oneof(
    fc.constantFrom("", "-", "--", "-1", "-.5", "-x", "--x", "=", "a=b", "x", "💥"),
    fc.string({ unit: "binary", maxLength: 6 }),
  );
  const name = fc.oneof(
    fc.constantFrom(...names),
    fc.constantFrom("nope", "__proto__", "constructor", "=", ""),
  );
  const letter = fc.oneof(fc.constantFrom(...letters), fc.constantFrom("z", "-", "=", "💥", "é"));
  return fc.oneof(
    name.map((n) => `--${n}`),
    fc.tuple(name, value).map(([n, v]) => `--${n}=${v}`),
    letter.map((l) => `-${l}`),
    fc.tuple(letter, value).map(([l, v]) => `-${l}${v}`),
    fc.array(letter, { minLength: 2, maxLength: 4 }).map((ls) => `-${ls.join("")}`),
    fc.tuple(fc.array(letter, { minLength: 1, maxLength: 3 }), value).map(([ls, v]) => `-${ls.join("")}${v}`),
    value,
    fc.constant("--"),
  );
}

describe("parseFlags is util.parseArgs (strict, positionals allowed)", () => {
  test.each([...commandOptions, ["(odd options)", odd] as [string, FlagOptions]])(
    "on generated command lines for %s",
    (_name, options) => {
      fc.assert(
        fc.property(fc.array(word(options), { maxLength: 6 }), (args) => expectSameAsUtil(args, options)),
        { numRuns: runs },
      );
    },
  );

  test.each([
    [["-px"]],
    [["-pt", "val"]],
    [["-pt", "-x"]],
    [["-pt"]],
    [["-tp"]],
    [["-pt=", "x"]],
    [["-p-t"]],
    [["-p=1"]],
    [["-💥"]],
    [["-p💥"]],
    [["--timeout", "-1"]],
    [["-t", "-1"]],
    [["--timeout="]],
    [["--timeout=a=b"]],
    [["--=x=y"]],
    [["---x"]],
    [["--pretty=1"]],
    [["--timeout", "--"]],
    [["-h", "--", "-x", "--y"]],
    [["-v", "-vv", "-x", "1"]],
    [["-aa", "-a", "-NA", "-N", "B", "--name=C"]],
    [["-d"]],
    [["-d", "v"]],
    [["-dd"]],
    [["--with=equals=1"]],
    [["--with=equals", "1"]],
  ])("%j", (args) => {
    expectSameAsUtil(args, {
      ...odd,
      help: { type: "boolean", short: "h" },
      pretty: { type: "boolean", short: "p" },
      timeout: { type: "string", short: "t" },
    });
  });
});
