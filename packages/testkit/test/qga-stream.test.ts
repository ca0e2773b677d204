// The guest agent reads a JSON byte stream, not lines: each case's bytes and the replies qemu-ga 7.2 gave to them
// (recorded with a raw socket). The fake must give the same bytes; so must the real agent when it is installed
// (skipped without qemu-ga, failing under CI=true). Every case ends with a ping whose reply marks the end, so no
// wait depends on timing.

import { afterEach, describe, expect, test } from "bun:test";
import { createFakeQGA } from "../src/qga/fake-qga.ts";
import { spawnQemuGa } from "../src/qga/spawn-qemu-ga.ts";
import { cleanupList, requireQemuGa, skipWithoutQemuGa, within } from "./qga-helpers.ts";

const cleanups = cleanupList();
afterEach(() => cleanups.run());

const END = '{"execute":"guest-ping","id":"end"}';
const END_REPLY = '{"return": {}, "id": "end"}\n';

/** A raw connection that keeps every byte received (latin1, so 0xFF stays one character). */
async function rawConnection(address: string) {
  let received = "";
  const closed = Promise.withResolvers<void>();
  let wanted: { text: string; resolve: () => void } | undefined;
  const socket = await Bun.connect({
    unix: address,
    socket: {
      data(_socket, chunk) {
        received += Buffer.from(chunk).toString("latin1");
        if (wanted !== undefined && received.endsWith(wanted.text)) wanted.resolve();
      },
      close() {
        closed.resolve();
      },
    },
  });
  return {
    send(bytes: string | Uint8Array): void {
      // Small writes to a unix socket are taken whole.
      expect(socket.write(bytes)).toBe(typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length);
    },
    /** Resolves once the bytes received end with `text`. */
    async receivedUpTo(text: string): Promise<string> {
      if (!received.endsWith(text)) {
        const reached = Promise.withResolvers<void>();
        wanted = { text, resolve: reached.resolve };
        await within(reached.promise, 5000, `a reply ending ${JSON.stringify(text)}`);
      }
      return received;
    },
    async closedByPeer(): Promise<string> {
      await within(closed.promise, 5000, "the agent closing the connection");
      return received;
    },
    halfClose(): void {
      socket.shutdown();
    },
    end(): void {
      socket.end();
    },
  };
}

const bytes = (...parts: (string | number)[]): Buffer =>
  Buffer.concat(parts.map((part) => (typeof part === "number" ? Buffer.of(part) : Buffer.from(part))));

/** A GenericError reply without id; `desc` as on the wire (JSON-escaped, as QEMU escapes it). */
const err = (desc: string): string => `{"error": {"class": "GenericError", "desc": "${desc}"}}\n`;

// Recorded from qemu-ga 7.2 (`qemu-ga -m unix-listen`), bytes as sent and as answered.
const CASES: { name: string; input: Buffer; replies: string }[] = [
  {
    name: "a command with no newline is answered at its closing brace",
    input: bytes('{"execute":"guest-ping","id":1}'),
    replies: '{"return": {}, "id": 1}\n',
  },
  {
    name: "two commands joined are two commands",
    input: bytes('{"execute":"guest-ping","id":1}{"execute":"guest-ping","id":2}'),
    replies: '{"return": {}, "id": 1}\n{"return": {}, "id": 2}\n',
  },
  {
    name: "a 0xFF between two commands is an error of its own",
    input: bytes('{"execute":"guest-ping","id":1}', 0xff, '{"execute":"guest-ping","id":2}'),
    replies: `{"return": {}, "id": 1}\n${err("JSON parse error, stray '\\uFFFD'")}{"return": {}, "id": 2}\n`,
  },
  {
    name: "a 0xFF inside a string drops the half command and quotes the string",
    input: bytes('{"execute":"guest-pi', 0xff, '{"execute":"guest-ping","id":2}'),
    replies: `${err(`JSON parse error, stray '\\"guest-pi\\uFFFD'`)}{"return": {}, "id": 2}\n`,
  },
  {
    name: "a 0xFF right after a keyword or number quotes only the byte",
    input: bytes('{"execute":"guest-ping","id":tr', 0xff, '{"execute":"guest-ping","id":12', 0xff),
    replies: err("JSON parse error, stray '\\uFFFD'").repeat(2),
  },
  {
    name: "newlines inside a command are whitespace",
    input: bytes('{"execute":\n"guest-ping",\n"id":8}\n'),
    replies: '{"return": {}, "id": 8}\n',
  },
  {
    name: "parse errors: a stray brace, top-level non-objects, a bad keyword, a bad list",
    input: bytes('}"abc"foo 42 [1]{"execute":"guest-ping","id":nope}{"execute":"guest-ping","id":[1}]'),
    replies:
      err("JSON parse error, expecting value") +
      err("QMP input must be a JSON object") +
      err("JSON parse error, invalid keyword 'foo'") +
      err("QMP input must be a JSON object").repeat(2) +
      err("JSON parse error, invalid keyword 'nope'") +
      err("JSON parse error, expected separator in list"),
  },
  {
    name: "single-quoted strings are accepted",
    input: bytes("{'execute':'guest-ping','id':'sq'}"),
    replies: '{"return": {}, "id": "sq"}\n',
  },
  {
    name: "errors from the request checks carry the request's id",
    input: bytes('{"exec-oob":"guest-ping","id":15}{"id":16}{"execute":"guest-ping","bogus":1}'),
    replies:
      `{"id": 15, "error": {"class": "GenericError", "desc": "QMP input member 'exec-oob' is unexpected"}}\n` +
      `{"id": 16, "error": {"class": "GenericError", "desc": "QMP input lacks member 'execute'"}}\n` +
      err("QMP input member 'bogus' is unexpected"),
  },
  {
    name: "guest-sync-delimited with no newline: its reply behind a 0xFF",
    input: bytes('{"execute":"guest-sync-delimited","arguments":{"id":5}}'),
    replies: '\xff{"return": 5}\n',
  },
];

type Agent = { address: string };

async function fakeAgent(): Promise<Agent> {
  const fake = await createFakeQGA();
  cleanups.add(() => fake.close());
  return fake;
}

async function realAgent(): Promise<Agent> {
  requireQemuGa();
  const real = await spawnQemuGa();
  cleanups.add(() => real.kill());
  return real;
}

function streamTests(start: () => Promise<Agent>): void {
  test.each(CASES)("$name", async ({ input, replies }) => {
    const agent = await start();
    const conn = await rawConnection(agent.address);
    cleanups.add(() => conn.end());
    conn.send(input);
    conn.send(END);
    expect(await conn.receivedUpTo(END_REPLY)).toBe(replies + END_REPLY);
  });

  test("a command split at every byte is one command", async () => {
    const agent = await start();
    const conn = await rawConnection(agent.address);
    cleanups.add(() => conn.end());
    for (const byte of Buffer.from('{"execute":"guest-ping","id":7}')) conn.send(Buffer.of(byte));
    expect(await conn.receivedUpTo('{"return": {}, "id": 7}\n')).toBe('{"return": {}, "id": 7}\n');
  });

  test("at a half-close the complete command is answered, then the agent closes", async () => {
    const agent = await start();
    const conn = await rawConnection(agent.address);
    conn.send('{"execute":"guest-ping","id":20}{"execute":"guest-pi');
    conn.halfClose();
    expect(await conn.closedByPeer()).toBe('{"return": {}, "id": 20}\n');
  });

  test("a command a client left half-sent is completed by the next client's bytes", async () => {
    const agent = await start();
    const first = await rawConnection(agent.address);
    first.send('{"execute":"guest-ping","id":1');
    first.halfClose();
    expect(await first.closedByPeer()).toBe("");
    const second = await rawConnection(agent.address);
    cleanups.add(() => second.end());
    second.send(`}${END}`);
    expect(await second.receivedUpTo(END_REPLY)).toBe(`{"return": {}, "id": 1}\n${END_REPLY}`);
  });
}

describe("the fake agent reads a JSON stream as qemu-ga 7.2 does", () => streamTests(fakeAgent));

describe.skipIf(skipWithoutQemuGa)("real qemu-ga (the recording still holds)", () => streamTests(realAgent));
