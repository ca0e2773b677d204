/**
 * QEMU's JSON writing and its hash-table orders, checked against what QEMU 7.2 was seen to send (the recorded
 * transcript and probes): number formatting, string escapes, QDict key order, GLib leftover order.
 */
import { describe, expect, test } from "bun:test";
import { encodeQemuJson, formatG17, ghashOrder, qdictOrder, quoteString, RawJson } from "../src/qjson.ts";

describe("formatG17 (C's %.17g)", () => {
  test.each([
    [0.1, "0.10000000000000001"],
    [1e300, "1.0000000000000001e+300"],
    [1e-7, "9.9999999999999995e-08"],
    [42.5, "42.5"],
    [1, "1"],
    [-0, "-0"],
    [1e21, "1e+21"],
    [123456.789, "123456.789"],
    [Number.POSITIVE_INFINITY, "inf"],
  ])("%p prints as %p", (value, text) => {
    expect(formatG17(value)).toBe(text);
  });
});

describe("encodeQemuJson", () => {
  test("separators, nesting and empty containers as QEMU writes them", () => {
    expect(encodeQemuJson({ a: [1, { b: null }], c: {}, d: [] })).toBe(
      '{"a": [1, {"b": null}], "c": {}, "d": []}',
    );
  });

  test("integers print in full, floats with %.17g, -0.0 as -0", () => {
    expect(encodeQemuJson([9007199254740991, 0.1, -0, 1.5])).toBe(
      "[9007199254740991, 0.10000000000000001, -0, 1.5]",
    );
  });

  test("non-ASCII, DEL and controls are \\uXXXX (upper-case, surrogate pairs); / is not escaped", () => {
    expect(quoteString('a/\u00e9\u0001\u007f😀x\t"\\')).toBe(
      '"a/\\u00E9\\u0001\\u007F\\uD83D\\uDE00x\\t\\"\\\\"',
    );
  });

  test("undefined members are skipped, RawJson is written verbatim", () => {
    expect(encodeQemuJson({ a: undefined, b: new RawJson('{"x":1}') })).toBe('{"b": {"x":1}}');
  });

  test("functions are not JSON", () => {
    expect(() => encodeQemuJson({ f: () => 1 })).toThrow(TypeError);
  });
});

describe("QEMU's hash-table orders", () => {
  test("qdictOrder reproduces the key orders QEMU 7.2 sent", () => {
    expect(qdictOrder(["return", "id"])).toEqual(["return", "id"]);
    expect(qdictOrder(["error", "id"])).toEqual(["id", "error"]);
    expect(qdictOrder(["running", "singlestep", "status"])).toEqual(["status", "singlestep", "running"]);
    expect(qdictOrder(["major", "minor", "micro"])).toEqual(["micro", "minor", "major"]);
    expect(qdictOrder(["timestamp", "event", "data"])).toEqual(["timestamp", "event", "data"]);
    // Why 'execute' clashes with 'exec-oob' and not the other way round.
    expect(qdictOrder(["execute", "exec-oob"])).toEqual(["exec-oob", "execute"]);
  });

  test("ghashOrder: QEMU reported 'zzz' before 'bogus' as the unexpected argument", () => {
    const leftovers = ghashOrder(qdictOrder(["command-line", "bogus", "zzz"])).filter(
      (k) => k !== "command-line",
    );
    expect(leftovers[0]).toBe("zzz");
  });

  test("encodeQemuJson(qdict = true) orders an echoed id like QEMU", () => {
    expect(encodeQemuJson({ zeta: 1, alpha: 2, mid: 3 }, true)).toBe(
      `{${qdictOrder(["zeta", "alpha", "mid"])
        .map((k) => `"${k}": ${{ zeta: 1, alpha: 2, mid: 3 }[k]}`)
        .join(", ")}}`,
    );
  });
});
