#!/usr/bin/env bun
/**
 * Records ground truth from a real QEMU into packages/testkit/fixtures/.
 *
 *   bun packages/testkit/scripts/record-fixtures.ts [--schema-only] [--qemu BINARY]
 *
 * Writes qemu-<major.minor>-schema.json and qemu-<major.minor>-transcript.jsonl, and prints
 * the results of a few probes (second client, oversized line) for the fixtures README.
 *
 * Deliberately self-contained: it speaks to QEMU over a raw Bun.connect socket with its own
 * newline framing, so the recording never depends on the library whose behaviour it checks; only the
 * write queue is protocol-core's SocketWriter, which hands the kernel the given bytes unchanged.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SocketWriter } from "@qmpkit/protocol-core";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Msg = { [key: string]: Json };

const FIXTURES = join(import.meta.dir, "..", "fixtures");

/** One QMP connection: newline framing in; out, protocol-core's write queue (it survives short writes). */
class Wire {
  /** Raw received bytes, kept so line endings and exact text can be inspected. */
  readonly raw: Buffer[] = [];
  /** Lines ending in "\r\n" vs. a bare "\n". */
  crlfLines = 0;
  lfLines = 0;
  closed = false;
  #socket: Bun.Socket<undefined> | undefined;
  #partial: Buffer[] = [];
  #inbox: Msg[] = [];
  #writer: SocketWriter | undefined;
  #wake: (() => void) | undefined;

  static async open(path: string): Promise<Wire> {
    const wire = new Wire();
    wire.#socket = await Bun.connect({
      unix: path,
      socket: {
        data: (_s, chunk) => wire.#receive(chunk),
        drain: () => wire.#writer?.onDrain(),
        close: () => wire.#close(),
        error: () => wire.#close(),
      },
    });
    wire.#writer = new SocketWriter(wire.#socket);
    return wire;
  }

  #close(): void {
    this.closed = true;
    this.#writer?.drop();
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #receive(chunk: Buffer): void {
    this.raw.push(chunk);
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl >= 0) {
      // Join the pieces only once a newline completes a line: linear in bytes received.
      this.#partial.push(chunk.subarray(start, nl));
      const line = Buffer.concat(this.#partial);
      this.#partial = [];
      const crlf = line.length > 0 && line[line.length - 1] === 13;
      if (crlf) this.crlfLines++;
      else this.lfLines++;
      const text = line.toString("utf8").trim();
      if (text.length > 0) this.#inbox.push(JSON.parse(text) as Msg);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) this.#partial.push(chunk.subarray(start));
    // Wake a reader only for complete messages; a partial chunk is not an answer.
    if (this.#inbox.length > 0) this.#notify();
  }

  /** Queue raw text and resolve once every byte has been handed to the kernel (or the socket closed). */
  send(text: string): Promise<void> {
    this.#writer?.write(text);
    return this.#writer?.flushed() ?? Promise.resolve();
  }

  /** The next message, or undefined after `ms` of silence or on close. */
  next(ms: number): Promise<Msg | undefined> {
    const queued = this.#inbox.shift();
    if (queued || this.closed) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(undefined);
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve(this.#inbox.shift());
      };
    });
  }

  /**
   * Everything received in answer to one send: messages up to and including the first reply
   * (`return`/`error`), then whatever follows within `quietMs`. With no reply, stops after
   * `silentMs` of silence.
   */
  async collect(silentMs = 1500, quietMs = 200): Promise<Msg[]> {
    const out: Msg[] = [];
    let replied = false;
    for (;;) {
      const msg = await this.next(replied ? quietMs : silentMs);
      if (!msg) break;
      out.push(msg);
      if ("return" in msg || "error" in msg) replied = true;
    }
    return out;
  }

  close(): void {
    this.#socket?.end();
  }
}

/** A throw-away QEMU with its QMP socket in a temp dir. */
class Qemu {
  readonly dir = mkdtempSync(join(tmpdir(), "qmpkit-record-"));
  readonly socketPath = join(this.dir, "qmp.sock");
  readonly argv: string[];
  readonly proc: ReturnType<typeof Bun.spawn>;

  constructor(binary: string) {
    this.argv = [
      binary,
      "-machine",
      "none",
      "-nodefaults",
      "-display",
      "none",
      "-qmp",
      `unix:${this.socketPath},server=on,wait=off`,
    ];
    this.proc = Bun.spawn(this.argv, { stdin: "ignore", stdout: "ignore", stderr: "inherit" });
  }

  async connect(): Promise<Wire> {
    const deadline = Date.now() + 10_000;
    // Bun.file().exists() is false for sockets; existsSync sees them.
    while (!existsSync(this.socketPath)) {
      if (Date.now() > deadline) throw new Error(`QEMU did not create ${this.socketPath}`);
      await Bun.sleep(10);
    }
    // QEMU binds the socket a moment before it listens (seen through the 10.0 tree's chroot): a refused connect
    // right after the file appears is retried until the deadline.
    for (;;) {
      try {
        return await Wire.open(this.socketPath);
      } catch (error) {
        if ((error as { code?: string }).code !== "ECONNREFUSED" || Date.now() > deadline) throw error;
        await Bun.sleep(10);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const exited = this.proc.exited;
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
      this.proc.kill("SIGTERM");
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function negotiate(wire: Wire, enable?: string[]): Promise<Msg> {
  const greeting = await wire.next(5000);
  if (!greeting || !("QMP" in greeting)) throw new Error(`no greeting: ${JSON.stringify(greeting)}`);
  const args = enable ? { enable } : undefined;
  await wire.send(
    `${JSON.stringify({ execute: "qmp_capabilities", ...(args ? { arguments: args } : {}) })}\n`,
  );
  const reply = await wire.collect();
  if (!reply.some((m) => "return" in m)) throw new Error(`negotiation failed: ${JSON.stringify(reply)}`);
  return greeting;
}

/** One array entry per line: small diffs when QEMU changes, still a single JSON array. */
function formatSchema(entries: Json[]): string {
  return `[\n${entries.map((e) => JSON.stringify(e)).join(",\n")}\n]\n`;
}

function versionTag(greeting: Msg): string {
  const qemu = ((greeting.QMP as Msg).version as Msg).qemu as Msg;
  return `${qemu.major}.${qemu.minor}`;
}

async function recordSchema(binary: string): Promise<string> {
  const qemu = new Qemu(binary);
  try {
    const wire = await qemu.connect();
    const greeting = await negotiate(wire);
    await wire.send('{"execute":"query-qmp-schema"}\n');
    const [reply] = await wire.collect(10_000);
    if (!reply || !Array.isArray(reply.return)) throw new Error("query-qmp-schema failed");
    const tag = versionTag(greeting);
    const file = join(FIXTURES, `qemu-${tag}-schema.json`);
    writeFileSync(file, formatSchema(reply.return));
    const oob = reply.return.filter((e) => (e as Msg)["allow-oob"] === true).map((e) => (e as Msg).name);
    console.log(`wrote ${file} (${reply.return.length} entries); allow-oob: ${oob.join(", ")}`);
    wire.close();
    return tag;
  } finally {
    await qemu.stop();
  }
}

type Mode = "negotiation" | "command";
interface Entry {
  case: string;
  mode: Mode;
  send: string;
  recv: Msg[];
  session: string;
  closed?: true;
}

/** A case sends one raw line (newline included) exactly as written here. */
type Case = readonly [name: string, send: string];

const line = (msg: Json): string => `${JSON.stringify(msg)}\n`;
const hmp = (cmd: string, id: string): string =>
  line({ execute: "human-monitor-command", arguments: { "command-line": cmd }, id });

const NEGOTIATION_CASES: Case[] = [
  ["query-status-before-negotiation", line({ execute: "query-status", id: "n1" })],
  ["unknown-command-before-negotiation", line({ execute: "no-such-command", id: "n2" })],
  [
    "caps-unknown-capability",
    line({ execute: "qmp_capabilities", arguments: { enable: ["bogus"] }, id: "n3" }),
  ],
  ["caps-extra-argument", line({ execute: "qmp_capabilities", arguments: { foo: 1 }, id: "n4" })],
  ["caps-enable-not-array", line({ execute: "qmp_capabilities", arguments: { enable: "oob" }, id: "n5" })],
  ["syntax-error-before-negotiation", '{"execute": }\n'],
  ["caps", line({ execute: "qmp_capabilities", id: "n6" })],
];

const COMMAND_CASES: Case[] = [
  ["caps-again", line({ execute: "qmp_capabilities", id: 1 })],
  ["unknown-command", line({ execute: "no-such-command", id: 2 })],
  ["missing-argument", line({ execute: "human-monitor-command", id: 3 })],
  ["extra-argument", line({ execute: "query-status", arguments: { foo: 1 }, id: 4 })],
  [
    "wrong-argument-type",
    line({ execute: "human-monitor-command", arguments: { "command-line": 5 }, id: 5 }),
  ],
  ["arguments-not-object", line({ execute: "query-status", arguments: [], id: 6 })],
  ["execute-not-string", line({ execute: 5, id: 7 })],
  ["no-execute", line({ id: 8 })],
  ["unknown-member", line({ execute: "query-status", id: 9, foo: 1 })],
  ["not-object-array", "[]\n"],
  ["not-object-number", "5\n"],
  ["not-object-string", '"query-status"\n'],
  ["syntax-error-missing-value", '{"execute": }\n'],
  ["syntax-error-bare-close", "}\n"],
  ["unterminated-string", '{"execute": "query-status", "id": "open\n'],
  ["unterminated-string-ended", '"}\n'],
  ["after-syntax-errors", line({ execute: "query-status", id: "after" })],
  ["split-across-lines", '{"execute":\n"query-status", "id": "split"}\n'],
  ["two-in-one-line", '{"execute": "query-name", "id": "a"}{"execute": "query-kvm", "id": "b"}\n'],
  ["id-string", line({ execute: "query-status", id: "abc" })],
  ["id-number", line({ execute: "query-status", id: 42.5 })],
  ["id-object", line({ execute: "query-status", id: { a: [1, "x"] } })],
  ["id-array", line({ execute: "query-status", id: [1, 2] })],
  ["id-null", line({ execute: "query-status", id: null })],
  ["no-id", line({ execute: "query-status" })],
  ["id-with-error", line({ execute: "no-such-command", id: { k: "v" } })],
  ["exec-oob-not-negotiated", line({ "exec-oob": "migrate-pause", id: 10 })],
  ["query-version", line({ execute: "query-version", id: 11 })],
  ["query-status", line({ execute: "query-status", id: 12 })],
  ["query-name", line({ execute: "query-name", id: 13 })],
  ["query-kvm", line({ execute: "query-kvm", id: 14 })],
  ["query-commands", line({ execute: "query-commands", id: 15 })],
  ["stop", line({ execute: "stop", id: 16 })],
  ["query-status-paused", line({ execute: "query-status", id: 17 })],
  ["stop-again", line({ execute: "stop", id: 18 })],
  ["cont", line({ execute: "cont", id: 19 })],
  ["cont-again", line({ execute: "cont", id: 20 })],
  ["system_reset", line({ execute: "system_reset", id: 21 })],
  ["system_powerdown", line({ execute: "system_powerdown", id: 22 })],
  ["hmp-info-status", hmp("info status", "h1")],
  ["hmp-help-info", hmp("help info", "h2")],
  ["hmp-info-version", hmp("info version", "h3")],
  ["hmp-unknown", hmp("no-such-hmp-command", "h4")],
  ["hmp-empty", hmp("", "h5")],
  [
    "hmp-cpu-index",
    line({
      execute: "human-monitor-command",
      arguments: { "command-line": "info status", "cpu-index": 7 },
      id: "h6",
    }),
  ],
  ["quit", line({ execute: "quit", id: 99 })],
];

const OOB_NEGOTIATION: Case[] = [
  ["caps-oob", line({ execute: "qmp_capabilities", arguments: { enable: ["oob"] }, id: "o0" })],
];

const OOB_CASES: Case[] = [
  ["oob-migrate-pause", line({ "exec-oob": "migrate-pause", id: "o1" })],
  [
    "oob-migrate-recover",
    line({ "exec-oob": "migrate-recover", arguments: { uri: "tcp:127.0.0.1:1" }, id: "o2" }),
  ],
  ["oob-query-yank", line({ "exec-oob": "query-yank", id: "o3" })],
  ["oob-non-oob-command", line({ "exec-oob": "query-status", id: "o4" })],
  ["oob-without-id", line({ "exec-oob": "query-yank" })],
  ["oob-and-execute", line({ execute: "query-status", "exec-oob": "query-yank", id: "o5" })],
  ["oob-unknown-command", line({ "exec-oob": "no-such-command", id: "o6" })],
  ["oob-not-string", line({ "exec-oob": 5, id: "o7" })],
  ["execute-with-oob-negotiated", line({ execute: "query-status", id: "o8" })],
  ["execute-yank-in-band", line({ execute: "query-yank", id: "o9" })],
  ["quit", line({ execute: "quit", id: "o99" })],
];

async function runSession(
  binary: string,
  session: string,
  negotiation: Case[],
  commands: Case[],
): Promise<{ entries: Entry[]; wire: Wire }> {
  const qemu = new Qemu(binary);
  const entries: Entry[] = [];
  try {
    const wire = await qemu.connect();
    const greeting = await wire.next(5000);
    if (!greeting) throw new Error("no greeting");
    entries.push({ case: "greeting", mode: "negotiation", send: "", recv: [greeting], session });
    let mode: Mode = "negotiation";
    for (const [name, send] of [...negotiation, ...commands]) {
      await wire.send(send);
      const recv = await wire.collect();
      const entry: Entry = { case: name, mode, send, recv, session };
      if (name === "quit") {
        // QEMU closes the socket after quit's return; give it a moment to be observed.
        for (let i = 0; i < 100 && !wire.closed; i++) await Bun.sleep(10);
      }
      if (wire.closed) entry.closed = true;
      entries.push(entry);
      if (wire.closed) break;
      if (negotiation.some(([n]) => n === name) && recv.some((m) => "return" in m)) mode = "command";
    }
    if (!wire.closed) throw new Error(`${session}: socket still open after the last case`);
    return { entries, wire };
  } finally {
    await qemu.stop();
  }
}

/** Probes whose results go into the fixtures README rather than the transcript. */
async function probe(binary: string): Promise<Record<string, Json>> {
  const results: Record<string, Json> = {};

  // A second client while the first is connected.
  {
    const qemu = new Qemu(binary);
    try {
      const first = await qemu.connect();
      await negotiate(first);
      const second = await Wire.open(qemu.socketPath);
      const whileFirst = await second.collect(1000);
      first.close();
      const afterFirstClosed = await second.collect(3000);
      results["second-client"] = {
        whileFirstConnected: whileFirst,
        secondClosed: second.closed,
        afterFirstClosed,
      };
      second.close();
    } finally {
      await qemu.stop();
    }
  }

  // Oversized input. Each variant runs on a fresh, negotiated QEMU.
  const MiB = 1024 * 1024;
  const variants: Record<string, string> = {
    "garbage-1MiB": "x".repeat(MiB),
    "id-string-1MiB": `{"execute": "query-status", "id": "${"y".repeat(MiB)}"}`,
    "open-brackets-1MiB": "[".repeat(MiB),
  };
  for (const [name, payload] of Object.entries(variants)) {
    const qemu = new Qemu(binary);
    try {
      const wire = await qemu.connect();
      await negotiate(wire);
      const t0 = performance.now();
      await wire.send(payload);
      const beforeNewline = await wire.collect(1500);
      await wire.send("\n");
      const afterNewline = await wire.collect(1500);
      const closedAfterPayload = wire.closed;
      let followUp: Json = "socket closed";
      if (!wire.closed) {
        await wire.send(line({ execute: "query-status", id: "follow-up" }));
        followUp = await wire.collect(5000);
      }
      // A leftover unclosed bracket swallows later input; closing it shows what happens next.
      let afterClosingBracket: Json = null;
      if (name === "open-brackets-1MiB" && !wire.closed) {
        await wire.send("]\n");
        afterClosingBracket = await wire.collect(5000);
      }
      const descLengths = [...beforeNewline, ...afterNewline]
        .map((m) => ((m.error as Msg | undefined)?.desc as string | undefined)?.length)
        .filter((n): n is number => n !== undefined);
      // Runs of identical messages collapse to {count, msg}; long texts are cut for the report.
      const summarise = (msgs: Msg[]): Json => {
        const runs: { count: number; msg: Json }[] = [];
        for (const m of msgs) {
          const text = JSON.stringify(m);
          const msg: Json = text.length > 200 ? `${text.slice(0, 200)}... (${text.length} chars)` : m;
          const last = runs[runs.length - 1];
          if (last && JSON.stringify(last.msg) === JSON.stringify(msg)) last.count++;
          else runs.push({ count: 1, msg });
        }
        return runs;
      };
      results[name] = {
        beforeNewline: summarise(beforeNewline),
        afterNewline: summarise(afterNewline),
        closedAfterPayload,
        followUp: Array.isArray(followUp) ? summarise(followUp as Msg[]) : followUp,
        afterClosingBracket: Array.isArray(afterClosingBracket)
          ? summarise(afterClosingBracket as Msg[])
          : null,
        maxDescLength: descLengths.length > 0 ? Math.max(...descLengths) : null,
        ms: Math.round(performance.now() - t0),
        qemuAlive: qemu.proc.exitCode === null,
      };
      wire.close();
    } finally {
      await qemu.stop();
    }
  }
  return results;
}

const { values: opts } = parseArgs({
  options: {
    "schema-only": { type: "boolean", default: false },
    "skip-probes": { type: "boolean", default: false },
    qemu: { type: "string", default: "qemu-system-x86_64" },
  },
});

mkdirSync(FIXTURES, { recursive: true });
const tag = await recordSchema(opts.qemu);
if (!opts["schema-only"]) {
  const main = await runSession(opts.qemu, "main", NEGOTIATION_CASES, COMMAND_CASES);
  const oob = await runSession(opts.qemu, "oob", OOB_NEGOTIATION, OOB_CASES);
  const entries = [...main.entries, ...oob.entries];
  const file = join(FIXTURES, `qemu-${tag}-transcript.jsonl`);
  writeFileSync(file, `${entries.map((e) => JSON.stringify(e)).join("\n")}\n`);
  console.log(`wrote ${file} (${entries.length} lines)`);
  for (const [name, wire] of Object.entries({ main: main.wire, oob: oob.wire })) {
    console.log(`${name}: ${wire.crlfLines} lines ended CRLF, ${wire.lfLines} bare LF`);
  }
  if (!opts["skip-probes"]) console.log(JSON.stringify(await probe(opts.qemu), null, 1));
}
