/**
 * One monitor session: one accepted socket, as QEMU's QMP monitor serves it. It owns the wire (the write queue
 * and its byte-level faults), QEMU's input parser, the in-band queue (in-band requests run one at a time, an
 * `exec-oob` request at once, so its reply may overtake) and the fault hooks on the greeting and on replies.
 * What a request means is not its business: a {@link MonitorService} (the QMP dispatcher, or a transcript
 * replay) gets every parsed input and answers through {@link MonitorSession.reply}.
 */
import { SocketWriter, settlesWithin, sleep } from "@qmpkit/protocol-core";
import type { Socket } from "bun";
import type { Fault, FaultConnection, FaultReplyAction, JsonObject, ReceivedMessage } from "../types.ts";
import { eventText, formatReply, type Reply } from "./format.ts";
import { type ParsedInput, QMPInputParser } from "./json-stream.ts";

/** Answers what a session receives. */
export interface MonitorService {
  /** The text sent when the session is served (null: nothing). */
  greeting(session: MonitorSession): string | null;
  /** Handles one parsed input; a returned promise holds the in-band queue until it settles. */
  input(input: ParsedInput, session: MonitorSession): Promise<void> | undefined;
}

/** What a session needs from the server that accepted it. */
export interface SessionOwner {
  /** QEMU's token and message size limit. */
  readonly maxLineBytes: number;
  /** Every input, as received, before it is handled. */
  record(entry: ReceivedMessage): void;
  /** Something went wrong that a test author should see (`fake.errors`). */
  reportError(client: number, command: string | undefined, message: string): void;
  /** The session ended (either side closed). */
  closed(session: MonitorSession): void;
}

/** `waiting`: accepted but not served yet (QEMU serves one client at a time); then negotiation, then commands. */
export type SessionPhase = "waiting" | "negotiation" | "command";

/** What endedNever rejects with; one for all sessions, made when first needed (an Error captures a stack). */
let connectionEnded: Error | undefined;
/** Stands for the client's half-close among the bytes kept for a client not served yet. */
const END_OF_INPUT = new Uint8Array(0);
const NO_FAULTS: readonly Fault[] = [];

/** One client connection of a fake monitor. */
export class MonitorSession {
  /** The client's number (1 for the first connection). */
  readonly id: number;
  phase: SessionPhase = "waiting";
  #fdPassed = false;
  /** Whether the client enabled out-of-band execution in `qmp_capabilities`. */
  oob = false;
  readonly #owner: SessionOwner;
  readonly #service: MonitorService;
  readonly #socket: Socket<unknown>;
  readonly #writer: SocketWriter;
  readonly #parser: QMPInputParser;
  readonly #faults: Fault[];
  readonly #beforeCommand: readonly Fault[];
  readonly #replyHooks: readonly Fault[];
  // The signal, the never-settling race partner and the fault hooks' view are made when first asked for: a
  // session whose handlers use none of them (most) never pays for them, nor for an AbortError when it ends.
  #abort: AbortController | undefined;
  #isEnded = false;
  readonly #ended = Promise.withResolvers<void>();
  #endedNever: Promise<never> | undefined;
  #faultConnection: FaultConnection | undefined;
  #inband: ParsedInput[] = [];
  #pumping = false;
  #ready = false;
  #early: Uint8Array[] = [];
  #closing = false;
  /** The client shut down its sending side (or the fake treats it so): answer what is complete, then close. */
  #inputEnded = false;

  constructor(
    owner: SessionOwner,
    service: MonitorService,
    socket: Socket<unknown>,
    id: number,
    faults: Fault[],
  ) {
    this.#owner = owner;
    this.#service = service;
    this.#socket = socket;
    this.id = id;
    this.#faults = faults;
    this.#beforeCommand =
      faults.length === 0 ? NO_FAULTS : faults.filter((f) => f.beforeCommand !== undefined);
    this.#replyHooks = faults.length === 0 ? NO_FAULTS : faults.filter((f) => f.reply !== undefined);
    this.#writer = new SocketWriter(socket, { onLimit: () => this.#terminate() });
    this.#parser = new QMPInputParser((input) => this.#onInput(input), owner.maxLineBytes);
  }

  /** The fault hooks as a fault sees this connection. */
  get faultConnection(): FaultConnection {
    this.#faultConnection ??= this.#makeFaultConnection();
    return this.#faultConnection;
  }

  /** Runs the faults' `opened` hooks; called once the server has registered the session. */
  opened(): void {
    for (const fault of this.#faults) fault.opened?.(this.faultConnection);
  }

  /** Aborted when the connection ends. */
  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#isEnded) this.#abort.abort();
    }
    return this.#abort.signal;
  }

  get ended(): boolean {
    return this.#isEnded;
  }

  /** Rejects when the connection ends: race a handler that may never settle against it. */
  get endedNever(): Promise<never> {
    if (this.#endedNever === undefined) {
      // Chaining on a shared never-settling promise would leave one reaction per connection on that immortal
      // promise: a leak of a Promise per connection, for the life of the process.
      connectionEnded ??= new Error("the client connection ended");
      const reason = connectionEnded;
      this.#endedNever = this.#ended.promise.then(() => Promise.reject(reason));
      this.#endedNever.catch(() => {});
    }
    return this.#endedNever;
  }

  /** Starts serving: greeting (through the fault hooks), then input. */
  activate(): Promise<void> | undefined {
    if (this.ended) return undefined;
    this.phase = "negotiation";
    const greeting = this.#service.greeting(this);
    // Without a greeting hook nothing here waits: no async function to run, no promise per session.
    for (const fault of this.#faults) if (fault.greeting) return this.#greetThroughFaults(greeting);
    if (!this.ended) this.#serve(greeting);
    return undefined;
  }

  async #greetThroughFaults(first: string | null): Promise<void> {
    let greeting = first;
    for (const fault of this.#faults) {
      if (greeting === null || this.ended) break;
      if (fault.greeting) greeting = await fault.greeting(greeting, this.faultConnection);
    }
    if (this.ended) return;
    this.#serve(greeting);
  }

  #serve(greeting: string | null): void {
    if (greeting !== null) this.#writer.write(greeting);
    for (const fault of this.#faults) fault.afterGreeting?.(this.faultConnection);
    this.#ready = true;
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) {
      if (chunk === END_OF_INPUT) this.onEnd();
      else this.onData(chunk);
    }
  }

  /** Socket `data` handler: bytes go straight to QEMU's parser, which answers each message once it is complete. */
  onData(chunk: Uint8Array): void {
    if (this.ended || this.#inputEnded) return;
    if (!this.#ready) {
      // Not served yet (one-client mode, or a slow greeting): keep the bytes, as the kernel would.
      this.#early.push(Uint8Array.from(chunk));
      return;
    }
    this.#parser.feed(chunk);
    // Bun reads with recv(2), so a descriptor passed with SCM_RIGHTS is closed by the kernel unseen. What stays
    // visible is its carrier: Linux ends a read right after the bytes that carried descriptors. Clients send
    // them on one space byte (QEMU's parser skips it), or, as libvirt does, on the command that takes them,
    // which libvirt alone ends with CRLF. So a read ending between messages in a space or in `}\r\n` is taken
    // as a carrier (a CRLF client such as telnet therefore gets getfd's success, not its "No file descriptor"
    // error). QEMU too keeps only the last descriptor received until a command takes it.
    const end = chunk.length;
    const last = chunk[end - 1];
    const carrier = last === 0x20 || (last === 0x0a && chunk[end - 2] === 0x0d && chunk[end - 3] === 0x7d);
    if (carrier && !this.#parser.pending) this.#fdPassed = true;
  }

  /** Takes the descriptor passed before the current command (`getfd`, `add-fd`): false when none came. */
  takeFd(): boolean {
    const passed = this.#fdPassed;
    this.#fdPassed = false;
    return passed;
  }

  /**
   * Socket `end` handler: the client shut down its sending side. QEMU answers every message that was complete,
   * drops a half-received one, then closes the connection.
   */
  onEnd(): void {
    if (this.ended || this.#inputEnded) return;
    if (!this.#ready) {
      this.#early.push(END_OF_INPUT);
      return;
    }
    this.#inputEnded = true;
    this.#parser.reset();
    this.#closeWhenIdle();
  }

  onDrain(): void {
    this.#writer.onDrain();
  }

  /** Socket `close` handler. */
  onClosed(): void {
    if (this.ended) return;
    this.#writer.drop();
    this.#isEnded = true;
    this.#abort?.abort();
    this.#ended.resolve();
    this.#owner.closed(this);
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
  close(graceMs = 2000): Promise<void> {
    if (this.ended || this.#closing) return this.#ended.promise;
    this.#closing = true;
    // A grace period is a timer and a race: only for what is not done yet. Most closes have nothing unwritten, and
    // an in-process socket has closed by the time end() returns.
    if (!this.#writer.isFlushed) return this.#flushThenEnd(graceMs);
    this.#socket.end();
    return this.ended ? this.#ended.promise : this.#endedWithin(graceMs);
  }

  async #flushThenEnd(graceMs: number): Promise<void> {
    await settlesWithin(this.#writer.flushed(), graceMs);
    if (this.ended) return;
    this.#socket.end();
    if (!this.ended) await this.#endedWithin(graceMs);
  }

  async #endedWithin(graceMs: number): Promise<void> {
    await settlesWithin(this.#ended.promise, graceMs);
    if (!this.ended) this.#terminate();
  }

  /** Drops everything unwritten and closes now (QEMU killed, or a handler's `reset()`). */
  resetNow(): void {
    if (!this.ended) this.#terminate();
  }

  /** The client is in command mode from now on (its `qmp_capabilities` succeeded). */
  enterCommandMode(oob: boolean): void {
    this.phase = "command";
    this.oob = oob;
  }

  /** Runs the faults' `afterNegotiation` hooks (once the `qmp_capabilities` reply is written). */
  negotiated(): void {
    for (const fault of this.#faults) fault.afterNegotiation?.(this.faultConnection);
  }

  /** Runs the faults' `beforeCommand` hooks; a promise only when one of them waits. */
  beforeCommand(command: string): Promise<void> | undefined {
    if (this.#beforeCommand.length === 0) return undefined;
    return (async () => {
      for (const fault of this.#beforeCommand) {
        await fault.beforeCommand?.(command, this.faultConnection);
        if (this.ended) return;
      }
    })();
  }

  /** Writes a reply; returns a promise only when a fault's reply hook is involved. */
  reply(reply: Reply): Promise<void> | undefined {
    if (this.ended) return undefined;
    const text = formatReply(reply);
    if (this.#replyHooks.length === 0) {
      this.#writer.write(text);
      return undefined;
    }
    return this.#replyThroughFaults(reply, text);
  }

  async #replyThroughFaults(reply: Reply, text: string): Promise<void> {
    const { command, hasId, id, body } = reply;
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

  #terminate(): void {
    this.#writer.drop();
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
    this.#owner.record(entry);
    // QEMU runs an exec-oob request as soon as it is parsed; everything else (parse errors included) queues.
    const value = input.ok ? input.value : undefined;
    const oob =
      typeof value === "object" &&
      value !== null &&
      !Array.isArray(value) &&
      "exec-oob" in value &&
      !("execute" in value);
    if (oob) {
      this.#service.input(input, this)?.catch((error: unknown) => {
        this.#owner.reportError(this.id, undefined, `internal error: ${String(error)}`);
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
      const pending = this.#service.input(next, this);
      if (pending !== undefined) {
        const resume = (): void => {
          this.#pumping = false;
          this.#pump();
        };
        pending.then(resume, (error: unknown) => {
          this.#owner.reportError(this.id, undefined, `internal error: ${String(error)}`);
          resume();
        });
        return;
      }
    }
    this.#pumping = false;
    this.#closeWhenIdle();
  }

  #closeWhenIdle(): void {
    if (this.#inputEnded && !this.#pumping && this.#inband.length === 0) void this.close();
  }

  #makeFaultConnection(): FaultConnection {
    const session = this;
    return {
      client: this.id,
      signal: this.signal,
      write: (data) => this.#writer.write(data),
      emit: (event, data) => this.#writer.write(eventText(event, data)),
      close: () => void this.close(),
      reset: () => this.resetNow(),
      splitWrites: () => this.#writer.splitBytes(),
      limitBytes: (total) => this.#writer.limitBytes(total),
      flushed: () => this.#writer.flushed(),
      sleep(ms) {
        // Ends early, without an error, when the connection does: the fault's work is moot then.
        return session.ended ? Promise.resolve() : sleep(ms, session.signal).catch(() => {});
      },
    };
  }
}
