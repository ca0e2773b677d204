import { describe, expect, test } from "bun:test";
import {
  commandMessage,
  decodeFrame,
  encodeFrame,
  isSyncReply,
  parseExactReturn,
  randomSyncId,
} from "../src/qga/wire.ts";

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));

describe("decodeFrame", () => {
  test("parses a plain reply and marks it undelimited", () => {
    expect(decodeFrame(bytes('{"return": {}}'))).toEqual({
      type: "json",
      value: { return: {} },
      text: '{"return": {}}',
      delimited: false,
    });
  });

  test("strips the 0xFF sentinel before JSON.parse and marks the reply delimited", () => {
    const message = decodeFrame(bytes([0xff], '{"return": 42}'));
    expect(message).toMatchObject({ type: "json", value: { return: 42 }, delimited: true });
  });

  test("drops everything before the last sentinel: leftovers of a stale reply, earlier sentinels", () => {
    const message = decodeFrame(bytes('{"return": {"pi', [0xff, 0xc3, 0x28, 0xff], '{"return": 7}'));
    expect(message).toMatchObject({
      type: "json",
      value: { return: 7 },
      delimited: true,
      text: '{"return": 7}',
    });
  });

  test("turns non-UTF-8 and non-JSON frames into `invalid` messages instead of throwing", () => {
    const message = decodeFrame(bytes([0xc3, 0x28, 0x80], " garbage"));
    expect(message.type).toBe("invalid");
    expect(message.text).toContain("garbage");
    expect(message.text).toContain("\uFFFD");
    expect(decodeFrame(bytes([0xff])).type).toBe("invalid");
  });
});

describe("isSyncReply", () => {
  test("accepts only our id behind the sentinel", () => {
    expect(isSyncReply(decodeFrame(bytes([0xff], '{"return": 5}')), 5)).toBe(true);
    expect(isSyncReply(decodeFrame(bytes([0xff], '{"return": 6}')), 5)).toBe(false);
    expect(isSyncReply(decodeFrame(bytes('{"return": 5}')), 5)).toBe(false);
    expect(
      isSyncReply(decodeFrame(bytes([0xff], '{"error": {"class": "GenericError", "desc": "x"}}')), 5),
    ).toBe(false);
  });
});

describe("commandMessage", () => {
  test("writes one JSON line, bigints as exact integers", () => {
    const message = commandMessage("guest-set-time", { time: 1795685313187004001n });
    expect(encodeFrame(message)).toBe(
      '{"execute":"guest-set-time","arguments":{"time":1795685313187004001}}\n',
    );
    expect(encodeFrame(commandMessage("guest-ping"))).toBe('{"execute":"guest-ping"}\n');
  });
});

test("parseExactReturn keeps integers past 2^53 exact and leaves small ones as numbers", () => {
  expect(parseExactReturn('{"return": 1795685313187004001}')).toBe(1795685313187004001n);
  expect(parseExactReturn('{"return": {"pid": 12}}')).toEqual({ pid: 12 });
});

test("randomSyncId stays a positive 31-bit integer", () => {
  for (let i = 0; i < 1000; i++) {
    const id = randomSyncId();
    expect(Number.isInteger(id) && id > 0 && id < 2 ** 31).toBe(true);
  }
});
