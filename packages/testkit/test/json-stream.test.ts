/**
 * QEMU's input parser, fed line by line as the fake's framing does: message boundaries independent of lines,
 * recovery after lexical errors, QEMU's limits. (QEMU's answers to many more inputs are in the probe fixture.)
 */
import { describe, expect, test } from "bun:test";
import { type ParsedInput, QmpInputParser } from "../src/monitor/json-stream.ts";

function feed(...lines: string[]): ParsedInput[] {
  const out: ParsedInput[] = [];
  const parser = new QmpInputParser((input) => out.push(input));
  for (const line of lines) parser.feedLine(Buffer.from(line));
  return out;
}

describe("message boundaries", () => {
  test("two messages on one line are two inputs; one message over three lines is one", () => {
    expect(feed('{"a": 1} {"b": 2}').map((i) => i.ok && i.value)).toEqual([{ a: 1 }, { b: 2 }]);
    const split = feed('{"execute":', '"query-kvm",', '"id": 3}');
    expect(split).toEqual([
      { ok: true, value: { execute: "query-kvm", id: 3 }, raw: '{"execute":\n"query-kvm",\n"id": 3}' },
    ]);
  });

  test("a scalar at top level is a message of its own", () => {
    expect(feed("5 true").map((i) => i.ok && i.value)).toEqual([5, true]);
  });

  test("single-quoted strings and \\' are QEMU extensions", () => {
    expect(feed("{'a': 'it\\'s \"q\"'}")).toMatchObject([{ ok: true, value: { a: 'it\'s "q"' } }]);
  });

  test("a '__proto__' member stays a plain member", () => {
    const [input] = feed('{"__proto__": {"polluted": true}}');
    const value = (input as { value: Record<string, unknown> }).value;
    expect(Object.keys(value)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });
});

describe("errors and recovery", () => {
  test("a newline inside a string is a lexical error quoting the token, then recovery skips to a bracket", () => {
    const inputs = feed('{"execute": "query-name", "id": "open', '"}', '{"execute": "query-kvm"}');
    expect(inputs.map((i) => (i.ok ? i.value : i.error))).toEqual([
      "JSON parse error, stray '\"open\n'",
      "JSON parse error, expecting value",
      { execute: "query-kvm" },
    ]);
  });

  test("1025 nested brackets exceed QEMU's nesting limit; the parser resets and goes on", () => {
    const inputs = feed(`${"[".repeat(1025)}`, '{"ok": 1}');
    expect(inputs.map((i) => (i.ok ? i.value : i.error))).toEqual([
      "JSON nesting depth limit exceeded",
      { ok: 1 },
    ]);
  });

  test("reset() forgets a message in progress", () => {
    const out: ParsedInput[] = [];
    const parser = new QmpInputParser((input) => out.push(input));
    parser.feedLine(Buffer.from('{"a": ['));
    parser.reset();
    parser.feedLine(Buffer.from('{"b": 1}'));
    expect(out.map((i) => i.ok && i.value)).toEqual([{ b: 1 }]);
  });

  test("an invalid keyword's error text is cut like QEMU's 1024-byte buffer", () => {
    const [input] = feed("x".repeat(5000));
    expect(input?.ok).toBe(false);
    expect((input as { error: string }).error.length).toBe(1041);
  });
});
