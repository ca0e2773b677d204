/**
 * QEMU's input parser, fed bytes as they arrive: message boundaries independent of lines and of chunks, recovery
 * after lexical errors, QEMU's limits. (QEMU's answers to many more inputs are in the probe fixture.)
 */
import { describe, expect, test } from "bun:test";
import { type ParsedInput, QMPInputParser } from "../src/monitor/json-stream.ts";

function feed(...lines: string[]): ParsedInput[] {
  const out: ParsedInput[] = [];
  const parser = new QMPInputParser((input) => out.push(input));
  for (const line of lines) parser.feed(Buffer.from(`${line}\n`));
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
    const parser = new QMPInputParser((input) => out.push(input));
    parser.feed(Buffer.from('{"a": ['));
    parser.reset();
    parser.feed(Buffer.from('{"b": 1}'));
    expect(out.map((i) => i.ok && i.value)).toEqual([{ b: 1 }]);
  });

  test("a byte of 0x80 or more ends a keyword or number, and only that byte is quoted (recorded from QEMU 7.2)", () => {
    const out: ParsedInput[] = [];
    const parser = new QMPInputParser((input) => out.push(input));
    // Bytes as sent to QEMU 7.2's monitor; its replies were stray '\uFFFD' then the next command's return, each time.
    parser.feed(Buffer.from('{"execute":"query-name","id":tr\xff{"execute":"query-name","id":2}', "latin1"));
    parser.feed(Buffer.from('{"execute":"query-name","id":12\xff{"execute":"query-name","id":3}', "latin1"));
    parser.feed(Buffer.from('{"execute":"query-name","id":tr\x80{"execute":"query-name","id":4}', "latin1"));
    parser.feed(Buffer.from('{"execute":"query-name","id":"ab\xff{"execute":"query-name","id":5}', "latin1"));
    expect(out.map((i) => (i.ok ? i.value : i.error))).toEqual([
      "JSON parse error, stray '\uFFFD'",
      { execute: "query-name", id: 2 },
      "JSON parse error, stray '\uFFFD'",
      { execute: "query-name", id: 3 },
      "JSON parse error, stray '\uFFFD'",
      { execute: "query-name", id: 4 },
      "JSON parse error, stray '\"ab\uFFFD'",
      { execute: "query-name", id: 5 },
    ]);
  });

  test("recovery after a lexical error stops at ':' and ',' too, each then a message of its own (recorded from QEMU 7.2)", () => {
    const out: ParsedInput[] = [];
    const parser = new QMPInputParser((input) => out.push(input));
    // Bytes as sent to QEMU 7.2; it answered the values here with "QMP input must be a JSON object".
    parser.feed(Buffer.from('{"a":-p,"id":1}{"execute":"query-name","id":2}'));
    parser.feed(Buffer.from('{"a":tr\x01x:y,"z"}{"execute":"query-name","id":3}'));
    expect(out.map((i) => (i.ok ? i.value : i.error))).toEqual([
      "JSON parse error, stray '-p'",
      "JSON parse error, expecting value",
      "id",
      "JSON parse error, expecting value",
      1,
      "JSON parse error, expecting value",
      { execute: "query-name", id: 2 },
      "JSON parse error, stray '\u0001'",
      "JSON parse error, expecting value",
      "JSON parse error, invalid keyword 'y'",
      "JSON parse error, expecting value",
      "z",
      "JSON parse error, expecting value",
      { execute: "query-name", id: 3 },
    ]);
  });

  test("an invalid keyword's error text is cut like QEMU's 1024-byte buffer", () => {
    const [input] = feed("x".repeat(5000));
    expect(input?.ok).toBe(false);
    expect((input as { error: string }).error.length).toBe(1041);
  });
});

describe("a byte stream, not lines", () => {
  function feedChunks(chunks: (string | Buffer)[], maxBytes?: number): ParsedInput[] {
    const out: ParsedInput[] = [];
    const parser = new QMPInputParser((input) => out.push(input), maxBytes);
    for (const chunk of chunks) parser.feed(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    return out;
  }

  test("a message is complete at its closing brace: no newline needed, none waited for", () => {
    expect(feedChunks(['{"execute": "query-kvm"}'])).toEqual([
      { ok: true, value: { execute: "query-kvm" }, raw: '{"execute": "query-kvm"}' },
    ]);
  });

  test("split at every byte, with multi-byte UTF-8 cut in half, it parses to the same messages", () => {
    const text = '{"execute": "x", "arguments": {"s": "é€😀", "n": -12.5e3}}\r{"execute": "y"}';
    const bytes = Buffer.from(text);
    const whole = feedChunks([bytes]);
    const split = feedChunks([...bytes].map((b) => Buffer.of(b)));
    expect(split).toEqual(whole);
    expect(whole.map((i) => i.ok && i.value)).toEqual([
      { execute: "x", arguments: { s: "é€😀", n: -12500 } },
      { execute: "y" },
    ]);
  });

  test("a number or keyword at the end of a chunk waits for its delimiter", () => {
    expect(feedChunks(['{"id": 12', "34}"]).map((i) => i.ok && i.value)).toEqual([{ id: 1234 }]);
    expect(feedChunks(["[tr", "ue]"]).map((i) => i.ok && i.value)).toEqual([[true]]);
  });

  test("a token longer than the limit is refused as QEMU's lexer does, and lexing starts afresh", () => {
    const inputs = feedChunks([`["${"a".repeat(40)}`, `${"a".repeat(40)}"]`, '\n{"ok": 1}'], 32);
    expect(inputs[0]).toMatchObject({ ok: false, error: "JSON token size limit exceeded" });
    expect(inputs.at(-1)).toMatchObject({ ok: true, value: { ok: 1 } });
  });

  test("the raw text kept for a message is capped at the limit", () => {
    const [input] = feedChunks([`{"a": 1${" ".repeat(1000)}}`], 64);
    expect(input).toMatchObject({ ok: true, value: { a: 1 } });
    expect(input?.raw.length).toBe(64);
  });

  test("pending says whether input would be lost if the stream ended now", () => {
    const parser = new QMPInputParser(() => {});
    expect(parser.pending).toBe(false);
    parser.feed(Buffer.from("{"));
    expect(parser.pending).toBe(true);
    parser.feed(Buffer.from("} 4"));
    expect(parser.pending).toBe(true);
    parser.feed(Buffer.from(" "));
    expect(parser.pending).toBe(false);
  });
});

// Plain messages are read with JSON.parse and only the rest with QEMU's own parser (see #parse): these are the
// inputs where the two would differ, each of which must come out as QEMU's parser reads it.
describe("plain JSON read natively, with QEMU's meaning", () => {
  test("a duplicate key is QEMU's error, at any depth, not JSON.parse's last value", () => {
    expect(feed('{"a": 1, "a": 2}')).toMatchObject([{ ok: false, error: "JSON parse error, duplicate key" }]);
    expect(feed('{"x": [{"b": 1, "b": 1}]}')).toMatchObject([
      { ok: false, error: "JSON parse error, duplicate key" },
    ]);
  });

  test("tokens are not glued together: [1 2] is a missing separator, not 12", () => {
    expect(feed("[1 2]")).toMatchObject([
      { ok: false, error: "JSON parse error, expected separator in list" },
    ]);
    expect(feed('{"a" "b"}')).toMatchObject([
      { ok: false, error: "JSON parse error, missing : in object pair" },
    ]);
  });

  test("an integer -0 is QEMU's integer 0; a float -0.0 stays -0", () => {
    const [int, float] = feed('{"id": -0}', '{"id": -0.0}') as { value: { id: number } }[];
    expect(Object.is(int?.value.id, 0)).toBe(true);
    expect(Object.is(float?.value.id, -0)).toBe(true);
  });

  test("escaped and non-ASCII strings are QEMU's decoding, an unknown keyword QEMU's error", () => {
    expect(feed('{"a": "\\u00e9\\/"}')).toMatchObject([{ ok: true, value: { a: "é/" } }]);
    expect(feed('["\\x"]')).toMatchObject([
      { ok: false, error: "JSON parse error, invalid escape sequence in string" },
    ]);
    expect(feed("[nul]")).toMatchObject([{ ok: false, error: "JSON parse error, invalid keyword 'nul'" }]);
  });
});
