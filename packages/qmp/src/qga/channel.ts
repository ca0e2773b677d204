import {
  AsyncProtocol,
  ConnectionClosedError,
  type ConnectOptions,
  Deadline,
  ProtocolError,
  type ProtocolOptions,
  Runstate,
  raceAbort,
  type SocketAddress,
  StateError,
} from "@qmpkit/protocol-core";
import { previewJson } from "../messages.ts";
import {
  QGAError,
  QGAInterruptedError,
  QGASyncError,
  QGATimeoutError,
  QGAVsockUnsupportedError,
} from "./errors.ts";
import { createJob, type Job, type QGACommandOptions } from "./queue.ts";
import {
  commandMessage,
  decodeFrame,
  encodeFrame,
  isObject,
  isReply,
  isSyncReply,
  type QGAMessage,
  randomSyncId,
  sentinelBytes,
} from "./wire.ts";

/** Options of a {@link QGAClient} (beside protocol-core's `name`, `logger`, `maxMessageBytes`, hooks). */
export interface QGAClientOptions extends ProtocolOptions<QGAMessage> {
  /** The default `timeoutMs` of every command. @default 30000 */
  commandTimeoutMs?: number;
  /** How long a resynchronisation may take, at connect and before the command after a timeout. @default 10000 */
  syncTimeoutMs?: number;
}

/**
 * Commands that by contract send no reply on success (qapi `'success-response': false`): they are sent without
 * waiting. They can still fail with an error reply, which would then arrive unasked, so the channel counts as
 * unsynchronised afterwards and the next command resyncs first.
 */
export const QGA_NO_REPLY_COMMANDS: ReadonlySet<string> = new Set([
  "guest-shutdown",
  "guest-suspend-disk",
  "guest-suspend-ram",
  "guest-suspend-hybrid",
]);

const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
const DEFAULT_SYNC_TIMEOUT_MS = 10_000;

/**
 * The core of a QEMU guest agent (qemu-ga) client: the session and the command channel. Typed helpers (`ping`,
 * `exec`, `fileRead`, …) are on {@link QGAClient}, which extends this.
 *
 * Session start sends the 0xFF byte and `guest-sync-delimited` with a random id, and discards everything until
 * the agent's sentinel and that id come back, so nothing left over from an earlier client is ever taken as a
 * reply. Commands then run one at a time in call order (the agent's replies carry no ids); a command that times
 * out or is aborted leaves the channel unsynchronised, and the next command resynchronises first.
 */
export class QGAChannel extends AsyncProtocol<QGAMessage> {
  readonly #commandTimeoutMs: number;
  readonly #syncTimeoutMs: number;
  #queue: Job[] = [];
  #active: Job | undefined;
  #outstanding = new Set<Job>();
  #desynced = false;
  #closeExpected = false;

  constructor(options: QGAClientOptions = {}) {
    super(options);
    this.#commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#syncTimeoutMs = options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
  }

  /**
   * Connects to the agent's socket (a path, `unix:PATH`, `tcp:HOST:PORT`) and synchronises with it.
   * `vsock:` addresses are refused with {@link QGAVsockUnsupportedError}: Bun cannot open AF_VSOCK sockets.
   */
  override async connect(address: SocketAddress, options: ConnectOptions = {}): Promise<void> {
    if (typeof address === "string" && /^vsock:/i.test(address)) throw new QGAVsockUnsupportedError(address);
    await super.connect(address, options);
  }

  /** True after a timeout, an abort or a no-reply command, until the next resynchronisation succeeds. */
  get desynchronized(): boolean {
    return this.#desynced;
  }

  /**
   * Runs `command` and resolves with the agent's `return` value; rejects with {@link QGAError} on an error
   * reply, {@link QGATimeoutError}, {@link QGAInterruptedError}, or the abort reason. Commands in
   * {@link QGA_NO_REPLY_COMMANDS} resolve with undefined once written.
   *
   * @example
   * const hostname = await qga.executeUntyped("guest-get-host-name");
   */
  async executeUntyped(
    command: string,
    args?: Readonly<Record<string, unknown>>,
    options: QGACommandOptions = {},
  ): Promise<unknown> {
    const reply = await this.request(command, args, options);
    return reply?.type === "json" && isObject(reply.value) ? reply.value.return : undefined;
  }

  /**
   * Resynchronises the channel (0xFF, then `guest-sync-delimited` with a fresh id), after every command queued
   * before it. Use it when the guest may have restarted its agent, e.g. after a resume from suspend.
   * Rejects with {@link QGASyncError} when the agent does not echo the id in time.
   */
  async sync(options: QGACommandOptions = {}): Promise<void> {
    this.#requireRunning("guest-sync-delimited");
    const job = this.#createJob(
      "sync",
      "guest-sync-delimited",
      undefined,
      options.timeoutMs ?? this.#syncTimeoutMs,
      {
        signal: options.signal,
      },
    );
    this.#queue.push(job);
    this.#pump();
    await job.promise;
  }

  /** Queues one command and resolves with its whole reply message (undefined for no-reply commands). */
  protected request(
    command: string,
    args: Readonly<Record<string, unknown>> | undefined,
    options: QGACommandOptions,
  ): Promise<QGAMessage | undefined> {
    try {
      this.#requireRunning(command);
    } catch (error) {
      return Promise.reject(error);
    }
    const job = this.#createJob("command", command, args, options.timeoutMs ?? this.#commandTimeoutMs, {
      signal: options.signal,
      noReply: QGA_NO_REPLY_COMMANDS.has(command),
    });
    this.#queue.push(job);
    this.#pump();
    return job.promise;
  }

  // ---- AsyncProtocol hooks -----------------------------------------------------------------------------------

  protected override get loggerPrefix(): string {
    return "qmpkit.qga";
  }

  protected override decodeMessage(frame: Uint8Array): QGAMessage {
    return decodeFrame(frame);
  }

  protected override encodeMessage(message: QGAMessage): string {
    return encodeFrame(message);
  }

  protected override async establishSession(signal: AbortSignal): Promise<void> {
    this.#desynced = false;
    this.#closeExpected = false;
    const id = randomSyncId();
    this.sendBytes(sentinelBytes());
    this.send(commandMessage("guest-sync-delimited", { id }));
    const timeoutMs = this.#syncTimeoutMs;
    using deadline = new Deadline({ timeoutMs, signal, onTimeout: () => new QGASyncError(id, timeoutMs) });
    for (;;) {
      const message = await raceAbort(this.recv(), deadline.signal);
      if (isSyncReply(message, id)) return;
      this.#logDiscarded(message, id);
    }
  }

  protected override onMessage(message: QGAMessage): void {
    const job = this.#active;
    if (job === undefined) {
      // Nothing asked: a late reply to a command that timed out, or an error for a no-reply command.
      if (this.logger.enabled)
        this.logger.debug(`Unsolicited message, resync before the next command: ${message.text}`);
      this.#desynced = true;
      return;
    }
    if (job.kind === "sync") {
      if (!isSyncReply(message, job.syncId as number)) {
        this.#logDiscarded(message, job.syncId as number);
        return;
      }
      this.#desynced = false;
      this.#finish(job, undefined, message);
      return;
    }
    if (message.type !== "json" || !isReply(message.value)) {
      this.#desynced = true;
      this.#finish(
        job,
        new ProtocolError(
          `${job.command}: the guest agent sent something that is not a reply: ${message.text.slice(0, 200)}`,
        ),
      );
      return;
    }
    const error = message.value.error;
    if (error === undefined) {
      this.#finish(job, undefined, message);
      return;
    }
    const errorClass = isObject(error) && typeof error.class === "string" ? error.class : "GenericError";
    const desc = isObject(error) && typeof error.desc === "string" ? error.desc : previewJson(error);
    this.#finish(job, new QGAError(job.command, errorClass, desc, message.value, job.args));
  }

  protected override onSessionEnd(error: unknown): void {
    const jobs = [...this.#outstanding];
    this.#queue = [];
    this.#active = undefined;
    for (const job of jobs) {
      job.settle(new QGAInterruptedError(job.command, error === undefined ? undefined : { cause: error }));
    }
    this.#outstanding.clear();
  }

  protected override peerClosedError(): unknown {
    // After guest-shutdown or guest-suspend-*, the agent going away is the expected outcome.
    return this.#closeExpected ? undefined : new ConnectionClosedError();
  }

  // ---- the queue ---------------------------------------------------------------------------------------------

  #createJob(
    kind: Job["kind"],
    command: string,
    args: Readonly<Record<string, unknown>> | undefined,
    timeoutMs: number,
    extra: { signal: AbortSignal | undefined; noReply?: boolean; owner?: Job },
  ): Job {
    const job = createJob({
      kind,
      command,
      args,
      timeoutMs,
      noReply: extra.noReply ?? false,
      owner: extra.owner,
      signal: extra.signal,
      expire: (expired, reason) => this.#expire(expired, reason),
    });
    if (!job.settled) this.#outstanding.add(job);
    // Nobody awaits an inserted resync; its failure reaches the command it was made for.
    if (extra.owner !== undefined) job.promise.catch(() => {});
    return job;
  }

  #expire(job: Job, reason: unknown): void {
    if (job.settled) return;
    let error = reason;
    if (error === undefined) {
      error =
        job.kind === "sync"
          ? new QGASyncError(job.syncId, job.timeoutMs)
          : new QGATimeoutError(job.command, job.timeoutMs);
    }
    if (job === this.#active) {
      // The reply may still come, and would be taken as the next command's: resync before that one.
      this.#desynced = true;
      this.#finish(job, error);
    } else {
      this.#outstanding.delete(job);
      job.settle(error);
    }
    if (job.owner !== undefined) this.#settle(job.owner, error);
  }

  #finish(job: Job, error: unknown, reply?: QGAMessage): void {
    if (this.#active === job) this.#active = undefined;
    this.#settle(job, error, reply);
    this.#pump();
  }

  #settle(job: Job, error: unknown, reply?: QGAMessage): void {
    this.#outstanding.delete(job);
    job.settle(error, reply);
  }

  #pump(): void {
    while (this.#active === undefined && this.runstate === Runstate.RUNNING) {
      const head = this.#queue[0];
      if (head === undefined) return;
      if (head.settled) {
        this.#queue.shift();
        continue;
      }
      if (this.#desynced && head.kind === "command") {
        const resync = this.#createJob("sync", "guest-sync-delimited", undefined, this.#syncTimeoutMs, {
          signal: undefined,
          owner: head,
        });
        this.#transmit(resync);
        continue;
      }
      this.#queue.shift();
      this.#transmit(head);
    }
  }

  #transmit(job: Job): void {
    job.transmitted = true;
    try {
      if (job.kind === "sync") {
        const id = randomSyncId();
        job.syncId = id;
        this.#active = job;
        this.sendBytes(sentinelBytes());
        this.send(commandMessage("guest-sync-delimited", { id }));
      } else if (job.noReply) {
        this.send(commandMessage(job.command, job.args));
        this.#desynced = true;
        this.#closeExpected = true;
        this.writesFlushed().then(() => this.#settle(job, undefined));
      } else {
        this.#active = job;
        this.send(commandMessage(job.command, job.args));
      }
    } catch (error) {
      if (this.#active === job) this.#active = undefined;
      this.#settle(job, error);
      if (job.owner !== undefined) this.#settle(job.owner, error);
    }
  }

  #requireRunning(command: string): void {
    if (this.runstate !== Runstate.RUNNING) {
      throw new StateError(
        `${this.constructor.name}: cannot run ${command} while ${this.runstate}; call connect() first.`,
        this.runstate,
        Runstate.RUNNING,
      );
    }
  }

  #logDiscarded(message: QGAMessage, id: number): void {
    if (this.logger.enabled) {
      this.logger.debug(
        `Waiting for sync id ${id}, discarding: ${message.delimited ? "\\xff" : ""}${message.text}`,
      );
    }
  }
}
