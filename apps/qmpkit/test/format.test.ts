import { describe, expect, test } from "bun:test";
import {
  colorEnabled,
  detectStyle,
  formatBytes,
  formatCliError,
  formatDuration,
  formatJson,
  formatQMPError,
} from "../src/format.ts";

describe("style detection", () => {
  test.each([
    [true, {}, true],
    [true, { NO_COLOR: "1" }, false],
    [true, { NO_COLOR: "" }, true],
    [false, {}, false],
    [undefined, {}, false],
  ])("isTTY=%p env=%j -> colour %p", (isTTY, env, expected) => {
    expect(colorEnabled(isTTY === undefined ? {} : { isTTY }, env)).toBe(expected);
  });

  test("pretty follows the terminal unless forced", () => {
    expect(detectStyle({ isTTY: true }, {})).toEqual({ pretty: true, color: true });
    expect(detectStyle({ isTTY: false }, {})).toEqual({ pretty: false, color: false });
    expect(detectStyle({ isTTY: false }, {}, true)).toEqual({ pretty: true, color: false });
    expect(detectStyle({ isTTY: true }, { NO_COLOR: "x" }, false)).toEqual({ pretty: false, color: false });
  });
});

describe("formatJson", () => {
  const value = { status: "running", running: true, n: -1.5e3, list: [null, 'a"b'], empty: {}, none: [] };

  test("without colour it is exactly JSON.stringify", () => {
    expect(formatJson(value, { pretty: false, color: false })).toBe(JSON.stringify(value));
    expect(formatJson(value, { pretty: true, color: false })).toBe(JSON.stringify(value, null, 2));
  });

  test("undefined and bigint are handled", () => {
    expect(formatJson(undefined, { pretty: false, color: false })).toBe("null");
    expect(formatJson({ size: 18446744073709551615n }, { pretty: false, color: false })).toBe(
      '{"size":18446744073709551615}',
    );
  });

  test("with colour, stripping the escapes gives the plain text back", () => {
    const colored = formatJson(value, { pretty: true, color: true });
    expect(colored).toContain('\x1b[36m"status"\x1b[0m: \x1b[32m"running"\x1b[0m');
    expect(colored).toContain("\x1b[33m-1500\x1b[0m");
    expect(colored).toContain("\x1b[35mnull\x1b[0m");
    expect(Bun.stripANSI(colored)).toBe(JSON.stringify(value, null, 2));
  });
});

describe("messages", () => {
  test("QMP errors and CLI errors", () => {
    expect(formatQMPError({ errorClass: "GenericError", desc: "no such device" }, false)).toBe(
      "GenericError: no such device",
    );
    expect(formatQMPError({ errorClass: "GenericError", desc: "x" }, true)).toBe(
      "\x1b[31mGenericError\x1b[0m: x",
    );
    expect(formatCliError("boom", false)).toBe("qmpkit: boom");
  });
});

describe("units", () => {
  test.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.5 KiB"],
    [10 * 1024 ** 2, "10 MiB"],
    [2.25 * 1024 ** 3, "2.3 GiB"],
  ])("%d bytes -> %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  test.each([
    [0.4, "0s"],
    [45, "45s"],
    [185, "3m05s"],
    [7380, "2h03m"],
    [-5, "0s"],
  ])("%d s -> %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
