import { describe, expect, test } from "bun:test";
import { readJson } from "../src/shell/json-value.ts";
import {
  initialShellState,
  parseArgumentWords,
  parseShellLine,
  parseValue,
  type ShellLineResult,
  type ShellState,
  toHmp,
} from "../src/shell/parse.ts";

/** Feeds lines through the parser the way the shell does, returning every result. */
function run(...lines: string[]): ShellLineResult[] {
  let state: ShellState = initialShellState;
  return lines.map((line) => {
    const result = parseShellLine(line, state);
    state = result.state;
    return result;
  });
}

function command(line: string): unknown {
  const result = parseShellLine(line, initialShellState);
  if (result.kind !== "command") throw new Error(`expected a command, got ${JSON.stringify(result)}`);
  return result.message;
}

function args(line: string): unknown {
  return (command(`cmd ${line}`) as { arguments: unknown }).arguments;
}

function error(...lines: string[]): { message: string; column: number } {
  const last = run(...lines).at(-1);
  if (last?.kind !== "error") throw new Error(`expected an error, got ${JSON.stringify(last)}`);
  expect(last.state).toEqual(initialShellState);
  return last.error;
}

describe("commands", () => {
  test("a bare command always carries an arguments object", () => {
    expect(command("query-status")).toEqual({ execute: "query-status", arguments: {} });
  });

  test("surrounding whitespace, tabs and a trailing newline are ignored", () => {
    expect(command("  \tstop \t\r\n")).toEqual({ execute: "stop", arguments: {} });
  });

  test("blank lines and # comments produce nothing", () => {
    expect(run("", "   ", "# a comment", "  # indented").map((r) => r.kind)).toEqual([
      "empty",
      "empty",
      "empty",
      "empty",
    ]);
  });

  test("key=value arguments keep their order", () => {
    expect(command("blockdev-add driver=null-co node-name=n0")).toEqual({
      execute: "blockdev-add",
      arguments: { driver: "null-co", "node-name": "n0" },
    });
  });
});

describe("values", () => {
  test.each([
    ["n=42", { n: 42 }],
    ["n=-7", { n: -7 }],
    ["n=1.5", { n: 1.5 }],
    ["n=2e3", { n: 2000 }],
    ["b=true c=false", { b: true, c: false }],
    ["b=True c=FALSE", { b: true, c: false }],
    ["z=null", { z: null }],
    ["s=abc", { s: "abc" }],
    ["s=1.2.3", { s: "1.2.3" }],
    ["s=+1", { s: "+1" }],
    ["s=0x10", { s: "0x10" }],
    ["s=007", { s: "007" }],
    ["e=", { e: "" }],
    ["e=''", { e: "" }],
    ["path=/tmp/a=b", { path: "/tmp/a=b" }],
    ["l=[1,2,3]", { l: [1, 2, 3] }],
    ["l=[]", { l: [] }],
    ['o={"k": [1, {"z": "a b"}], "t": true}', { o: { k: [1, { z: "a b" }], t: true } }],
    ["o={'k': 'v'}", { o: { k: "v" } }],
    ["ip=[::1]", { ip: "[::1]" }],
    ["bad={1: 2}", { bad: "{1: 2}" }],
  ])("%s", (line, expected) => {
    expect(args(line)).toEqual(expected);
  });

  test("quotes group words and make scalars strings", () => {
    expect(args(`x="1 2" y='3' t="true" n='null' esc="a\\"b\\\\c" lit='a\\b'`)).toEqual({
      x: "1 2",
      y: "3",
      t: "true",
      n: "null",
      esc: 'a"b\\c',
      lit: "a\\b",
    });
  });

  test("quoted text that starts with a bracket is still JSON (qmp-shell's idiom)", () => {
    expect(args(`o='{"a": 1}' l="[1, 2]"`)).toEqual({ o: { a: 1 }, l: [1, 2] });
  });

  test("a backslash outside quotes escapes one character", () => {
    expect(args(String.raw`s=a\ b t=\'`)).toEqual({ s: "a b", t: "'" });
  });

  test("integers beyond 2^53 are sent exactly", () => {
    const message = command("cmd size=18446744073709551615 l=[9007199254740993]");
    expect(JSON.stringify(message)).toBe(
      '{"execute":"cmd","arguments":{"size":18446744073709551615,"l":[9007199254740993]}}',
    );
  });

  test("parseValue on its own", () => {
    expect(parseValue("12", false)).toBe(12);
    expect(parseValue("12", true)).toBe("12");
    expect(parseValue("[1]", true)).toEqual([1]);
    expect(parseValue("", false)).toBe("");
  });
});

describe("dotted keys", () => {
  test("build nested objects and merge siblings", () => {
    expect(args("a.b.c=1 a.b.d=two a.e=[1] f=x")).toEqual({ a: { b: { c: 1, d: "two" }, e: [1] }, f: "x" });
  });

  test("__proto__ is an ordinary key", () => {
    const result = args(`__proto__.x=1 o={"__proto__": 2}`) as Record<string, unknown>;
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(JSON.stringify(result)).toBe('{"__proto__":{"x":1},"o":{"__proto__":2}}');
  });

  test.each([
    ["cmd a=1 a=2", "duplicate key 'a'", 9],
    ["cmd a=1 a.b=2", "key 'a.b' conflicts with 'a': 'a' cannot be both a value and an object", 9],
    ["cmd a.b=2 a=1", "key 'a' conflicts with 'a.b': 'a' cannot be both a value and an object", 11],
    ["cmd a.b.c=1 a.b=2", "key 'a.b' conflicts with 'a.b.c': 'a.b' cannot be both a value and an object", 13],
    ['cmd a={"x":1} a.y=2', "key 'a.y' conflicts with 'a': 'a' cannot be both a value and an object", 15],
    ["cmd a.b=1 a.b=2", "duplicate key 'a.b'", 11],
    ["cmd =1", "missing key before '='", 5],
    ["cmd a..b=1", "empty part in key 'a..b'", 5],
    ["cmd .a=1", "empty part in key '.a'", 5],
    ["cmd a.=1", "empty part in key 'a.'", 5],
  ])("%s", (line, message, column) => {
    expect(error(line)).toEqual({ message, column });
  });
});

describe("raw JSON lines", () => {
  test("are passed through as parsed", () => {
    expect(run(`  {"execute": "query-status", "id": "x", "arguments": {}}`)[0]).toEqual({
      kind: "raw",
      message: { execute: "query-status", id: "x", arguments: {} },
      state: initialShellState,
    });
  });

  test.each([
    ['{"execute": "stop"', "invalid JSON: expected ',' or '}', found end of input", 19],
    ['{"execute" "stop"}', "invalid JSON: expected ':' after the key, found '\"'", 12],
    ["{execute: 1}", "invalid JSON: expected a string key, found 'e'", 2],
    ['{"a": 1} x', "invalid JSON: expected end of JSON value, found 'x'", 10],
    ['{"a": 1, "a": 2}', 'invalid JSON: duplicate key "a"', 10],
    ['{"a": "b', "invalid JSON: unterminated string", 7],
    ['{"a": "\\q"}', "invalid JSON: invalid escape '\\q' in string", 8],
    ['{"a": tru}', "invalid JSON: expected a JSON value, found 't'", 7],
    ["{'a': 1}", 'invalid JSON: expected a string key, found "\'"', 2],
  ])("%s", (line, message, column) => {
    expect(error(line)).toEqual({ message, column });
  });
});

describe("transactions", () => {
  test("a block collects actions until ')'", () => {
    const results = run("transaction(", "block-dirty-bitmap-add node=d0 name=b0", "  abort", ")");
    expect(results.map((r) => r.kind)).toEqual(["transaction", "transaction", "transaction", "command"]);
    expect(results.map((r) => (r.kind === "transaction" ? r.actions : -1))).toEqual([0, 1, 2, -1]);
    expect(results[3]).toEqual({
      kind: "command",
      message: {
        execute: "transaction",
        arguments: {
          actions: [
            { type: "block-dirty-bitmap-add", data: { node: "d0", name: "b0" } },
            { type: "abort", data: {} },
          ],
        },
      },
      state: initialShellState,
    });
  });

  test("the state says a block is open, and blank lines inside it change nothing", () => {
    const [opened, blank] = run("transaction(", "");
    expect(opened?.state.transaction).toEqual({ actions: [] });
    expect(blank?.kind).toBe("empty");
    expect(blank?.state.transaction).toEqual({ actions: [] });
  });

  test("one-line form with comma-separated actions", () => {
    expect(command("transaction( abort, block-dirty-bitmap-clear node=d0 name=b0 )")).toEqual({
      execute: "transaction",
      arguments: {
        actions: [
          { type: "abort", data: {} },
          { type: "block-dirty-bitmap-clear", data: { node: "d0", name: "b0" } },
        ],
      },
    });
  });

  test("keys after ')' become the transaction's properties", () => {
    expect(command("transaction( abort ) completion-mode=grouped")).toEqual({
      execute: "transaction",
      arguments: { actions: [{ type: "abort", data: {} }], properties: { "completion-mode": "grouped" } },
    });
  });

  test("an empty transaction is allowed", () => {
    expect(command("transaction( )")).toEqual({ execute: "transaction", arguments: { actions: [] } });
  });

  test("actions may share a line with the opener, with each other, and with the closer", () => {
    const results = run("transaction( a x=1,", "b y=[1, 2], c", "d )");
    expect(results.at(-1)).toMatchObject({
      kind: "command",
      message: {
        arguments: {
          actions: [
            { type: "a", data: { x: 1 } },
            { type: "b", data: { y: [1, 2] } },
            { type: "c", data: {} },
            { type: "d", data: {} },
          ],
        },
      },
    });
  });

  test("a JSON line inside a block is one action", () => {
    const results = run("transaction(", '{"type": "abort"}', '{"type": "x", "data": {"k": 1}}', ")");
    expect(results.at(-1)).toMatchObject({
      message: {
        arguments: {
          actions: [
            { type: "abort", data: {} },
            { type: "x", data: { k: 1 } },
          ],
        },
      },
    });
  });

  test("an error inside a block discards the block", () => {
    const results = run("transaction(", "abort", "x a=1 a=2", "abort");
    expect(results[2]).toEqual({
      kind: "error",
      error: { message: "duplicate key 'a' (the open transaction with 1 action was discarded)", column: 7 },
      state: initialShellState,
    });
    // The next line is an ordinary command again.
    expect(results[3]?.kind).toBe("command");
  });

  test.each([
    [["transaction( a x=1 b y=2 )"], "expected key=value, ',' or ')', found 'b'", 20],
    [["transaction( , a )"], "expected an action name, found ','", 14],
    [["transaction( a, , b )"], "expected an action name, found ','", 17],
    [["transaction( x=1 )"], "expected an action name, found 'x=1'", 14],
    [["transaction( a ) b"], "expected key=value (transaction properties), found 'b'", 18],
    [
      ["transaction( a ) p=1, q=2"],
      "unexpected ',': commas separate actions only inside 'transaction( … )'; quote a value that ends in a comma",
      21,
    ],
    [[")"], "')' without an open 'transaction('", 1],
    [
      ["transaction(", "transaction("],
      "'transaction(' inside an open transaction; close it with ')' first (the open transaction with 0 actions was discarded)",
      1,
    ],
    [
      ["transaction(", '{"data": {}}'],
      'a JSON action needs a string "type" member, like {"type": "abort", "data": {}} (the open transaction with 0 actions was discarded)',
      1,
    ],
    [
      ["transaction(", '  {"type": "a", "data": [1]}'],
      `the JSON action's "data" must be an object (the open transaction with 0 actions was discarded)`,
      3,
    ],
  ])("%j", (lines, message, column) => {
    expect(error(...lines)).toEqual({ message, column });
  });
});

describe("malformed lines", () => {
  test.each([
    ["x=1", "expected a command name, found 'x=1'", 1],
    ["'' a=1", "expected a command name, found ''", 1],
    ["cmd x", "expected key=value, found 'x'", 5],
    ["cmd a=1 b", "expected key=value, found 'b'", 9],
    [
      "cmd x=1, y=2",
      "unexpected ',': commas separate actions only inside 'transaction( … )'; quote a value that ends in a comma",
      8,
    ],
    ['cmd "unterminated', `unterminated " quote starting at column 5`, 5],
    ["cmd a='b", "unterminated ' quote starting at column 7", 7],
    ["cmd p=\\", "nothing to escape after '\\' at column 7", 7],
    [
      "cmd x=[1, 2",
      "unclosed '[' from column 7: expected ']' before the end of the line (quote the value to send it as text)",
      7,
    ],
    ['cmd o={"a": [1}', "expected ']' to close '[' from column 13, found '}' at column 15", 15],
    ['cmd o={"a": "}', `unterminated " quote starting at column 13`, 13],
  ])("%s", (line, message, column) => {
    expect(error(line)).toEqual({ message, column });
  });
});

describe("HMP mode", () => {
  test("wraps the whole line, untouched", () => {
    expect(toHmp("info  block  -v\n")).toEqual({
      execute: "human-monitor-command",
      arguments: { "command-line": "info  block  -v" },
    });
  });
});

describe("argument words from the OS shell (qmpkit exec)", () => {
  test("values follow the same rules, without quote processing", () => {
    expect(parseArgumentWords(["a.b=1", "s=x y", 'q="12"', "l=[1, 2]", "e="])).toEqual({
      ok: true,
      arguments: { a: { b: 1 }, s: "x y", q: "12", l: [1, 2], e: "" },
    });
  });

  test.each([
    [["a=1", "b"], "argument 2: expected key=value, got 'b'", 2],
    [["a=1", "a=2"], "argument 2: duplicate key 'a'", 2],
    [["=1"], "argument 1: missing key before '='", 1],
  ])("%j", (words, message, column) => {
    expect(parseArgumentWords(words)).toEqual({ ok: false, error: { message, column } });
  });
});

describe("readJson", () => {
  test("rejects nesting deeper than 512 levels without overflowing the stack", () => {
    const result = readJson("[".repeat(600) + "]".repeat(600));
    expect(result).toMatchObject({ ok: false, message: "nesting deeper than 512 levels" });
  });

  test("decodes escapes", () => {
    expect(readJson(String.raw`"\u00e9\n\t\/"`)).toEqual({ ok: true, value: "é\n\t/" });
  });
});
