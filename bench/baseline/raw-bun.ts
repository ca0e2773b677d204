/**
 * The raw Bun baselines: the least code that speaks each workload on
 * `Bun.connect` / `Bun.listen` — no state machine, no id map, no error
 * classes. What qmpkit costs is measured against these.
 *
 * Writes go through a queue that honours partial writes (`socket.write` keeps
 * no copy of what the kernel did not take; the rest goes out on `drain`), and
 * lines sent in the same tick are coalesced into one write.
 */
import { join } from "node:path";
import type { Socket } from "bun";
import type { Contender, Measurement, RunningServer, ServerContender, Target } from "../lib/contender.ts";

const NL = 0x0a;
const encoder = new TextEncoder();

type Message = Record<string, unknown>;

/** Outgoing bytes the kernel has not taken yet, in order. */
class WriteQueue {
  private readonly chunks: Uint8Array[] = [];
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly socket: () => Socket<unknown> | undefined) {}

  /** Queue a line; everything queued in this tick goes out in one write. */
  send(line: string): void {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.chunks.push(encoder.encode(this.pending.join("")));
        this.pending = [];
        this.flush();
      });
    }
  }

  /** Write until the kernel stops taking bytes; call again on `drain`. */
  flush(): void {
    const socket = this.socket();
    if (socket === undefined) return;
    while (this.chunks.length > 0) {
      const head = this.chunks[0] as Uint8Array;
      const written = socket.write(head);
      if (written < head.length) {
        if (written > 0) this.chunks[0] = head.subarray(written);
        return;
      }
      this.chunks.shift();
    }
  }
}

/** Split chunks into lines; `partial` carries an unfinished line between chunks. */
export function forEachLine(partial: Buffer[], chunk: Buffer, onLine: (text: string) => void): void {
  let start = 0;
  let nl = chunk.indexOf(NL);
  while (nl !== -1) {
    if (partial.length > 0) {
      partial.push(chunk.subarray(start, nl));
      const text = Buffer.concat(partial).toString();
      partial.length = 0;
      onLine(text);
    } else {
      onLine(chunk.toString("utf8", start, nl));
    }
    start = nl + 1;
    nl = chunk.indexOf(NL, start);
  }
  if (start < chunk.length) partial.push(Buffer.from(chunk.subarray(start)));
}

/** One client session: a newline counter (optionally JSON.parse per line) and a write queue. */
class RawSession {
  lines = 0;
  bytes = 0;
  onMessage: ((msg: Message) => void) | undefined;
  private socket: Socket<undefined> | undefined;
  private readonly out = new WriteQueue(() => this.socket);
  private readonly partial: Buffer[] = [];
  private want = 0;
  private waiter: PromiseWithResolvers<void> | undefined;
  private ended: Error | undefined;
  private readonly closed = Promise.withResolvers<void>();

  private constructor(private readonly parse: boolean) {}

  /** Connect, read the greeting, negotiate. */
  static async open(path: string, parse: boolean): Promise<RawSession> {
    const s = new RawSession(parse);
    s.socket = await Bun.connect({
      unix: path,
      socket: {
        data: (_sock, chunk) => s.onData(chunk),
        drain: () => s.out.flush(),
        close: () => s.onEnd(new Error("connection closed")),
        error: (_sock, err) => s.onEnd(err),
      },
    });
    await s.until(1);
    s.send('{"execute":"qmp_capabilities"}\n');
    await s.until(2);
    return s;
  }

  send(line: string): void {
    this.out.send(line);
  }

  /** Resolves once `target` lines in total have been received. */
  until(target: number): Promise<void> {
    if (this.lines >= target) return Promise.resolve();
    if (this.ended !== undefined) return Promise.reject(this.ended);
    this.want = target;
    this.waiter = Promise.withResolvers<void>();
    return this.waiter.promise;
  }

  /** Everything has been answered, so the queue is empty: end() and wait for the close. */
  async close(): Promise<void> {
    this.socket?.end();
    await this.closed.promise;
  }

  private onData(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.parse) {
      forEachLine(this.partial, chunk, (text) => {
        this.lines++;
        const msg = JSON.parse(text) as Message;
        this.onMessage?.(msg);
      });
    } else {
      let nl = chunk.indexOf(NL);
      while (nl !== -1) {
        this.lines++;
        nl = chunk.indexOf(NL, nl + 1);
      }
    }
    if (this.waiter !== undefined && this.lines >= this.want) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve();
    }
  }

  private onEnd(err: Error): void {
    if (this.ended !== undefined) return;
    this.ended = err;
    this.waiter?.reject(err);
    this.waiter = undefined;
    this.closed.resolve();
  }
}

/** n sequential commands, each awaited before the next is sent. */
async function sequential(t: Target, parse: boolean, command: string, n: number): Promise<Measurement> {
  const s = await RawSession.open(t.address, parse);
  const base = s.lines;
  const bytes0 = s.bytes;
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) {
    s.send(`{"execute":"${command}","id":${i}}\n`);
    await s.until(base + i + 1);
  }
  const ns = Bun.nanoseconds() - t0;
  await s.close();
  return { ns, ops: n, bytes: s.bytes - bytes0 };
}

/**
 * The raw Bun client. `parse: false` only counts newlines (Bun's I/O floor);
 * `parse: true` also JSON.parses every line and hands events to listeners.
 */
export function rawBunClient(parse: boolean): Contender {
  return {
    name: parse ? "raw Bun (parse)" : "raw Bun (count)",
    inProcess: true,

    async connect(t, n) {
      const t0 = Bun.nanoseconds();
      for (let i = 0; i < n; i++) {
        const s = await RawSession.open(t.address, parse);
        await s.close();
      }
      return { ns: Bun.nanoseconds() - t0, ops: n };
    },

    seq: (t, n) => sequential(t, parse, "query-status", n),

    async pipe(t, n) {
      const s = await RawSession.open(t.address, parse);
      const base = s.lines;
      const bytes0 = s.bytes;
      const t0 = Bun.nanoseconds();
      for (let i = 0; i < n; i++) s.send(`{"execute":"query-status","id":${i}}\n`);
      await s.until(base + n);
      const ns = Bun.nanoseconds() - t0;
      await s.close();
      return { ns, ops: n, bytes: s.bytes - bytes0 };
    },

    schema: (t, n) => sequential(t, parse, "query-qmp-schema", n),

    async events(t, n, listeners) {
      const s = await RawSession.open(t.address, parse);
      const seen = new Array<number>(listeners).fill(0);
      const fns = seen.map((_, k) => (_event: Message) => {
        seen[k] = (seen[k] ?? 0) + 1;
      });
      s.onMessage = (msg) => {
        if ("event" in msg) for (const fn of fns) fn(msg);
      };
      const base = s.lines;
      const bytes0 = s.bytes;
      const t0 = Bun.nanoseconds();
      s.send(`{"execute":"bench-events","arguments":{"count":${n}},"id":1}\n`);
      await s.until(base + n + 1);
      const ns = Bun.nanoseconds() - t0;
      await s.close();
      if (parse && seen.some((c) => c !== n))
        throw new Error(`listeners saw ${seen.join(",")} of ${n} events`);
      return { ns, ops: n, bytes: s.bytes - bytes0 };
    },
  };
}

/**
 * The raw Bun client plus what execute() semantics need at the least: one promise per command, resolved by its
 * reply's id through a Map (ids are numbers, so no string parsing), and `Promise.all` for the pipelined batch. No
 * state machine, no error classes, no timers. The gap between this and `raw Bun (parse)` is the price of a
 * promise-per-command API in Bun; the gap between qmpkit and this is what qmpkit adds on top.
 */
export function rawBunPromiseClient(): Contender {
  const base = rawBunClient(true);
  type Resolver = (msg: Message) => void;
  const open = async (t: Target) => {
    const s = await RawSession.open(t.address, true);
    const waiting = new Map<number, Resolver>();
    let next = 0;
    s.onMessage = (msg) => {
      if (typeof msg.id !== "number") return;
      const resolve = waiting.get(msg.id);
      if (resolve === undefined) throw new Error(`unexpected id ${msg.id}`);
      waiting.delete(msg.id);
      resolve(msg);
    };
    const execute = (command: string): Promise<Message> => {
      const id = next++;
      const { promise, resolve } = Promise.withResolvers<Message>();
      waiting.set(id, resolve);
      s.send(`{"execute":"${command}","id":${id}}\n`);
      return promise;
    };
    return { s, execute };
  };
  const sequential = async (t: Target, command: string, n: number): Promise<Measurement> => {
    const { s, execute } = await open(t);
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < n; i++) await execute(command);
    const ns = Bun.nanoseconds() - t0;
    await s.close();
    return { ns, ops: n };
  };
  return {
    ...base,
    name: "raw Bun (promise+id)",
    seq: (t, n) => sequential(t, "query-status", n),
    schema: (t, n) => sequential(t, "query-qmp-schema", n),
    async pipe(t, n) {
      const { s, execute } = await open(t);
      const t0 = Bun.nanoseconds();
      const replies: Promise<Message>[] = new Array(n);
      for (let i = 0; i < n; i++) replies[i] = execute("query-status");
      await Promise.all(replies);
      const ns = Bun.nanoseconds() - t0;
      await s.close();
      return { ns, ops: n };
    },
  };
}

const GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}\r\n';
const STATUS = '{"return": {"status": "running", "singlestep": false, "running": true}';

interface Peer {
  out: WriteQueue;
  partial: Buffer[];
}

/**
 * The raw Bun server for workload 7: JSON.parse each request, answer with a
 * fixed query-status return echoing the id, one write per received chunk.
 */
export const rawBunServer: ServerContender = {
  name: "raw Bun server",
  asTarget: false,
  asServer: true,
  events: false,
  async start(ctx): Promise<RunningServer> {
    const address = join(ctx.dir, "raw-bun.sock");
    const server = Bun.listen<Peer>({
      unix: address,
      socket: {
        open(sock) {
          sock.data = { out: new WriteQueue(() => sock), partial: [] };
          sock.data.out.send(GREETING);
        },
        data(sock, chunk) {
          const peer = sock.data;
          forEachLine(peer.partial, chunk, (text) => {
            if (text.trim() === "") return;
            const msg = JSON.parse(text) as Message;
            const id = "id" in msg ? `, "id": ${JSON.stringify(msg.id)}` : "";
            peer.out.send(
              msg.execute === "qmp_capabilities" ? `{"return": {}${id}}\r\n` : `${STATUS}${id}}\r\n`,
            );
          });
        },
        drain(sock) {
          sock.data.out.flush();
        },
      },
    });
    return {
      address,
      async stop() {
        server.stop(true);
      },
    };
  },
};
