/**
 * One client of the fake QEMU: framing, QEMU's input parser, the negotiation state, QMP dispatch with QEMU's
 * checks and error texts, in-band commands run one at a time while `exec-oob` ones run at once (so their replies
 * may overtake), and the fault hooks that bend all of that.
 */
import { FrameTooLargeError, LineDecoder } from "@qmpkit/protocol-core";
import type { Socket } from "bun";
import { QmpCommandError } from "./errors.ts";
import type { FakeQemu } from "./fake-server.ts";
import { HandlerContext } from "./handler-context.ts";
import { type ParsedInput, QmpInputParser } from "./json-stream.ts";
import { encodeQemuJson, qdictOrder, quoteString } from "./qjson.ts";
import type {
  CommandHandler,
  Fault,
  FaultConnection,
  FaultReplyAction,
  JsonObject,
  ReceivedMessage,
} from "./types.ts";
import { WireWriter } from "./wire-writer.ts";

/** A command the server can run, with its dispatch rules. */
export interface ResolvedCommand {
  handler: CommandHandler;
  allowOob: boolean;
  validate: boolean;
}

/** Takes over a connection's conversation entirely (transcript replay): no QEMU dispatch rules apply. */
export interface Interceptor {
  /** The text sent when the connection is served (null: nothing). */
  greeting(conn: Connection): string | null;
  /** Every parsed input, in order. */
  input(conn: Connection, input: ParsedInput): void;
}

/** What a connection needs from the server that owns it. */
export interface ServerCore {
  readonly interceptor: Interceptor | undefined;
  readonly fake: FakeQemu;
  readonly maxLineBytes: number;
  readonly offered: readonly string[];
  greetingText(): string;
  record(entry: ReceivedMessage): void;
  resolve(command: string): ResolvedCommand | undefined;
  checkArguments(command: string, args: JsonObject): string | undefined;
  emitAll(event: string, data: JsonObject | undefined): void;
  reportError(client: number, command: string | undefined, message: string): void;
  connectionClosed(conn: Connection): void;
  quitRequested(conn: Connection): void;
}

/** Formats one QMP event line the way QEMU does. */
export function eventText(event: string, data: JsonObject | undefined, nowUs = nowMicros()): string {
  const seconds = Math.floor(nowUs / 1e6);
  const micros = nowUs - seconds * 1e6;
  const head = `{"timestamp": {"seconds": ${seconds}, "microseconds": ${micros}}, "event": ${quoteString(event)}`;
  return data === undefined ? `${head}}\r\n` : `${head}, "data": ${encodeQemuJson(data)}}\r\n`;
}

/** Wall-clock time in whole microseconds, QEMU's event time base. */
export function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

type ReplyBody = { return: unknown } | { error: { class: string; desc: string } };

/** A request that passed QEMU's checks, on its way to its handler. */
interface Request {
  command: string;
  resolved: ResolvedCommand;
  args: JsonObject;
  msg: JsonObject;
  hasId: boolean;
  id: unknown;
  oob: boolean;
  negotiating: boolean;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

const CONNECTION_ENDED = new Error("the client connection ended");

/** One accepted socket. */
export class Connection {
  readonly id: number;
  phase: "waiting" | "negotiation" | "command" = "waiting";
  oob = false;
  readonly #core: ServerCore;
  readonly #socket: Socket<unknown>;
  readonly #writer: WireWriter;
  readonly #decoder: LineDecoder;
  readonly #parser: QmpInputParser;
  readonly #faults: Fault[];
  readonly #abort = new AbortController();
  readonly #ended = Promise.withResolvers<void>();
  readonly faultConnection: FaultConnection;
  #inband: ParsedInput[] = [];
  #pumping = false;
  #ready = false;
  #early: Uint8Array[] = [];
  #closing = false;
  #skipping = false;
  readonly #beforeCommand: Fault[];
  readonly #replyHooks: Fault[];
  readonly #endedNever: Promise<never>;

  constructor(core: ServerCore, socket: Socket<unknown>, id: number, faults: Fault[]) {
    this.#core = core;
    this.#socket = socket;
    this.id = id;
    this.#faults = faults;
    this.#beforeCommand = faults.filter((f) => f.beforeCommand !== undefined);
    this.#replyHooks = faults.filter((f) => f.reply !== undefined);
    // Rejects once the connection ends. Chaining on a shared never-settling promise would leave one reaction per
    // connection on that immortal promise: a leak of a Promise per connection, for the life of the process.
    this.#endedNever = this.#ended.promise.then(() => Promise.reject(CONNECTION_ENDED));
    this.#endedNever.catch(() => {});
    this.#writer = new WireWriter(socket, () => this.#terminate());
    this.#decoder = new LineDecoder({ maxMessageBytes: core.maxLineBytes });
    this.#parser = new QmpInputParser((input) => this.#onInput(input));
    this.faultConnection = this.#makeFaultConnection();
  }

  /** Runs the faults' `opened` hooks; called once the server has registered the connection. */
  opened(): void {
    for (const fault of this.#faults) fault.opened?.(this.faultConnection);
  }

  /** Aborted when the connection ends. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get ended(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Starts serving: greeting (through the fault hooks), then input. */
  async activate(): Promise<void> {
    if (this.ended) return;
    this.phase = "negotiation";
    let greeting: string | null = this.#core.interceptor
      ? this.#core.interceptor.greeting(this)
      : this.#core.greetingText();
    for (const fault of this.#faults) {
      if (greeting === null || this.ended) break;
      if (fault.greeting) greeting = await fault.greeting(greeting, this.faultConnection);
    }
    if (this.ended) return;
    if (greeting !== null) this.#writer.write(greeting);
    for (const fault of this.#faults) fault.afterGreeting?.(this.faultConnection);
    this.#ready = true;
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) this.onData(chunk);
  }

  /** Socket `data` handler. */
  onData(chunk: Uint8Array): void {
    if (this.ended) return;
    if (!this.#ready) {
      // Not served yet (one-client mode, or a slow greeting): keep the bytes, as the kernel would.
      this.#early.push(Uint8Array.from(chunk));
      return;
    }
    let data = chunk;
    if (this.#skipping) {
      // The rest of an oversized line: drop it, up to and including its newline.
      const newline = data.indexOf(0x0a);
      if (newline < 0) return;
      this.#skipping = false;
      data = data.subarray(newline + 1);
    }
    try {
      this.#decoder.decode(data, (line) => this.#parser.feedLine(line));
    } catch (error) {
      if (!(error instanceof FrameTooLargeError)) throw error;
      // QEMU answers an oversized token with this error and carries on; the fake does the same per line. The
      // decoder notices the excess before the line ends (chunks are far smaller than the limit), so the rest of
      // the line arrives later and is skipped. A limit below the chunk size can lose what followed in the chunk.
      this.#skipping = true;
      this.#parser.reset();
      this.#onInput({ ok: false, error: "JSON token size limit exceeded", raw: "" });
    }
  }

  onDrain(): void {
    this.#writer.onDrain();
  }

  /** Socket `close` handler. */
  onClosed(): void {
    if (this.ended) return;
    this.#writer.close();
    this.#abort.abort();
    this.#ended.resolve();
    this.#core.connectionClosed(this);
  }

  /** Writes raw bytes. */
  write(data: string | Uint8Array): void {
    this.#writer.write(data);
  }

  /** Sends an event to this client, if it is in command mode. */
  sendEvent(event: string, data: JsonObject | undefined): void {
    if (this.phase === "command" && !this.ended) this.#writer.write(eventText(event, data));
  }

  flushed(): Promise<void> {
    return this.#writer.flushed();
  }

  get bufferedBytes(): number {
    return this.#writer.bufferedBytes;
  }

  /** Flushes, then closes; resets if the peer does not take the data within `graceMs`. */
  async close(graceMs = 2000): Promise<void> {
    if (this.ended || this.#closing) return this.#ended.promise;
    this.#closing = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.#writer.flushed(), timedOut]);
    clearTimeout(timer);
    if (this.ended) return;
    this.#socket.end();
    const closed = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.#ended.promise, closed]);
    clearTimeout(timer);
    if (!this.ended) this.#terminate();
  }

  #terminate(): void {
    this.#writer.close();
    this.#socket.terminate();
    this.onClosed();
  }

  #onInput(input: ParsedInput): void {
    const entry: ReceivedMessage = {
      client: this.id,
      message: input.ok ? input.value : undefined,
      raw: input.raw,
      at: Date.now(),
    };
    if (!input.ok) entry.error = input.error;
    this.#core.record(entry);
    if (this.#core.interceptor) {
      this.#core.interceptor.input(this, input);
      return;
    }
    // QEMU runs an exec-oob request as soon as it is parsed; everything else (parse errors included) queues.
    if (input.ok && isObject(input.value) && "exec-oob" in input.value && !("execute" in input.value)) {
      this.#execute(input)?.catch((error: unknown) => {
        this.#core.reportError(this.id, undefined, `internal error: ${String(error)}`);
      });
      return;
    }
    this.#inband.push(input);
    this.#pump();
  }

  // In-band requests run one at a time, synchronously when nothing in them waits (the common case: no awaits,
  // no promise per command); an asynchronous one parks the queue until it has replied.
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    for (;;) {
      const next = this.#inband.shift();
      if (next === undefined || this.ended) break;
      const pending = this.#execute(next);
      if (pending !== undefined) {
        const resume = (): void => {
          this.#pumping = false;
          this.#pump();
        };
        pending.then(resume, (error: unknown) => {
          this.#core.reportError(this.id, undefined, `internal error: ${String(error)}`);
          resume();
        });
        return;
      }
    }
    this.#pumping = false;
  }

  /** Runs one request; returns a promise only if part of it is asynchronous. */
  #execute(input: ParsedInput): Promise<void> | undefined {
    if (!input.ok) return this.#reply("", false, undefined, genericError(input.error));
    const msg = input.value;
    if (!isObject(msg))
      return this.#reply("", false, undefined, genericError("QMP input must be a JSON object"));
    const hasId = Object.hasOwn(msg, "id");
    const id = msg.id;
    const fail = (desc: string) => this.#reply("", hasId, id, genericError(desc));

    // QEMU checks the members in its hash-table order, so with several problems it reports the same one.
    let execKey: string | undefined;
    for (const key of qdictOrder(Object.keys(msg))) {
      const value = msg[key];
      if (key === "execute" || (key === "exec-oob" && this.oob)) {
        if (typeof value !== "string") return fail(`QMP input member '${key}' must be a string`);
        if (execKey !== undefined) return fail(`QMP input member '${key}' clashes with '${execKey}'`);
        execKey = key;
      } else if (key === "arguments") {
        if (!isObject(value)) return fail("QMP input member 'arguments' must be an object");
      } else if (key !== "id") {
        return fail(`QMP input member '${key}' is unexpected`);
      }
    }
    if (execKey === undefined) return fail("QMP input lacks member 'execute'");
    const command = msg[execKey] as string;
    const oob = execKey === "exec-oob";
    const args = (msg.arguments ?? {}) as JsonObject;

    const negotiating = this.phase === "negotiation";
    const resolved = negotiating && command !== "qmp_capabilities" ? undefined : this.#core.resolve(command);
    if (resolved === undefined) {
      const desc = negotiating
        ? "Expecting capabilities negotiation with 'qmp_capabilities'"
        : `The command ${command} has not been found`;
      return this.#reply(command, hasId, id, { error: { class: "CommandNotFound", desc } });
    }
    if (oob && !resolved.allowOob) return fail(`The command ${command} does not support OOB`);
    if (resolved.validate) {
      const problem = this.#core.checkArguments(command, args);
      if (problem !== undefined) return fail(problem);
    }
    const request: Request = { command, resolved, args, msg, hasId, id, oob, negotiating };
    if (this.#beforeCommand.length === 0) return this.#run(request);
    return (async () => {
      for (const fault of this.#beforeCommand) {
        await fault.beforeCommand?.(command, this.faultConnection);
        if (this.ended) return;
      }
      await this.#run(request);
    })();
  }

  #run(request: Request): Promise<void> | undefined {
    const context = new HandlerContext(
      this,
      this.#core,
      request.command,
      request.msg,
      request.hasId,
      request.id,
      request.oob,
    );
    let result: unknown;
    try {
      result = request.resolved.handler(request.args, context);
    } catch (error) {
      return this.#finish(request, context, this.#errorBody(request.command, error));
    }
    if (!isThenable(result))
      return this.#finish(request, context, { return: result === undefined ? {} : result });
    return (async () => {
      let body: ReplyBody;
      try {
        // A handler that never settles (hang, disconnect, reset) must not hold the queue once the client is gone.
        const value = await Promise.race([result, this.#endedNever]);
        body = { return: value === undefined ? {} : value };
      } catch (error) {
        if (this.ended) return;
        body = this.#errorBody(request.command, error);
      }
      await this.#finish(request, context, body);
    })();
  }

  #errorBody(command: string, error: unknown): ReplyBody {
    if (error instanceof QmpCommandError) return { error: { class: error.errorClass, desc: error.desc } };
    const message = error instanceof Error ? error.message : String(error);
    this.#core.reportError(this.id, command, `handler for '${command}' threw: ${message}`);
    return genericError(message);
  }

  #finish(request: Request, context: HandlerContext, body: ReplyBody): Promise<void> | undefined {
    if (this.ended) return undefined;
    const { command, negotiating, args } = request;
    if (command === "qmp_capabilities" && negotiating && "return" in body) {
      this.phase = "command";
      this.oob = Array.isArray(args.enable) && args.enable.includes("oob");
    }
    const after = (): void => {
      for (const callback of context.afterReply) callback();
      if (this.phase === "command" && negotiating) {
        for (const fault of this.#faults) fault.afterNegotiation?.(this.faultConnection);
      }
    };
    const written = this.#reply(command, request.hasId, request.id, body);
    if (written === undefined) {
      after();
      return undefined;
    }
    return written.then(after);
  }

  /** Writes a reply; returns a promise only when a fault's reply hook is involved. */
  #reply(command: string, hasId: boolean, id: unknown, body: ReplyBody): Promise<void> | undefined {
    if (this.ended) return undefined;
    const idText = hasId ? encodeQemuJson(id, true) : undefined;
    let text: string;
    if ("return" in body) {
      const value = encodeQemuJson(body.return);
      text = idText === undefined ? `{"return": ${value}}\r\n` : `{"return": ${value}, "id": ${idText}}\r\n`;
    } else {
      const error = `{"class": ${quoteString(body.error.class)}, "desc": ${quoteString(body.error.desc)}}`;
      text = idText === undefined ? `{"error": ${error}}\r\n` : `{"id": ${idText}, "error": ${error}}\r\n`;
    }
    if (this.#replyHooks.length === 0) {
      this.#writer.write(text);
      return undefined;
    }
    return this.#replyThroughFaults(command, hasId, id, body, text);
  }

  async #replyThroughFaults(command: string, hasId: boolean, id: unknown, body: ReplyBody, text: string) {
    let writes: (string | Uint8Array)[] = [text];
    let end: FaultReplyAction["end"];
    for (const fault of this.#replyHooks) {
      const message: JsonObject = hasId ? { ...body, id } : { ...body };
      const action = await fault.reply?.({ command, id, hasId, message, text }, this.faultConnection);
      if (this.ended) return;
      if (action === undefined) continue;
      if (action.write !== undefined) writes = action.write;
      if (action.end !== undefined) end = action.end;
    }
    for (const chunk of writes) this.#writer.write(chunk);
    if (end === "close") void this.close();
    else if (end === "reset") {
      await this.#writer.flushed();
      if (!this.ended) this.#terminate();
    }
  }

  /** Used by a handler's `reset()`: drop everything and close now. */
  resetNow(): void {
    if (!this.ended) this.#terminate();
  }

  #makeFaultConnection(): FaultConnection {
    const conn = this;
    return {
      client: this.id,
      signal: this.#abort.signal,
      write: (data) => this.#writer.write(data),
      emit: (event, data) => this.#writer.write(eventText(event, data)),
      close: () => void this.close(),
      reset: () => this.resetNow(),
      splitWrites: () => this.#writer.splitWrites(),
      limitBytes: (total) => this.#writer.limitBytes(total),
      flushed: () => this.#writer.flushed(),
      sleep(ms) {
        return new Promise<void>((resolve) => {
          if (conn.ended) return resolve();
          const timer = setTimeout(done, ms);
          function done() {
            clearTimeout(timer);
            conn.signal.removeEventListener("abort", done);
            resolve();
          }
          conn.signal.addEventListener("abort", done, { once: true });
        });
      },
    };
  }
}

function genericError(desc: string): ReplyBody {
  return { error: { class: "GenericError", desc } };
}
