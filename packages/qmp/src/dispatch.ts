/**
 * The one path of a command: validate (when asked), decide its id, send it, and match its reply.
 *
 *   execute / executeUntyped / executeMsg / executeRaw
 *        └──► run() ──► [schema check] ──► #send(): the id decided here, and only here ──► wire
 *   wire ──► route(reply) ──► PendingTable.take(id | none) ──► settle: return value, ExecuteError, or raw reply
 *
 * Fewest bytes: QEMU reads its monitor one byte per main-loop turn, so every request byte is latency. An in-band
 * command goes without an `id` when no other in-band reply is due (abandoned commands' included): QEMU answers
 * in-band commands in order, and the only id-less reply it sends answers the one command sent without an id.
 * With more in flight, commands carry ids; `exec-oob` always does (its reply may overtake others).
 * This relies on what QEMU guarantees: each command is answered once, with its id echoed. A server that answered
 * twice, or dropped a reply's id, could have that reply taken for the id-less command's (the property tests in
 * packages/testkit/test/id-matching.property.test.ts draw only faults QEMU itself can produce).
 *
 * A generated id is the command's sequence number as a JSON number (`"id":7`); a caller's id must be a string.
 * So a reply's id says whose it is by its type alone, and a generated one is an array index once parsed: with
 * `"@7"` strings, building, parsing and matching the id cost ~0.5 µs per pipelined command in Bun 1.4.4, a
 * third of the whole (bench/README.md, "Issue 16"); a number is also 3 bytes shorter for QEMU to read.
 *
 * @module
 */

import type { Logger } from "@qmpkit/protocol-core";
import {
  BadReplyError,
  ExecInterruptedError,
  ExecuteError,
  type SentCommand,
  ServerParseError,
  UsageError,
} from "./errors.ts";
import { type CommandMessage, isErrorBody, isObject, previewJson, type QMPMessage } from "./messages.ts";
import type { ExecuteOptions } from "./options.ts";
import { Pending, PendingTable, type ReplyMode } from "./pending.ts";
import type { SchemaCache } from "./schema-cache.ts";

/** What the dispatcher needs from the client. */
export interface DispatchWire {
  /** Writes a message; throws a `StateError` unless the session is running (the one runstate check). */
  send(message: QMPMessage): void;
  /** The capabilities negotiated for this session. */
  readonly capabilities: readonly string[];
  readonly logger: Logger;
}

export class Dispatch {
  /** The schema commands are validated against; undefined while the client does not validate. */
  schema: SchemaCache | undefined;
  readonly #wire: DispatchWire;
  readonly #table = new PendingTable();
  #seq = 0;
  /** A `quit` was sent and has not failed: the peer's close is then expected. */
  #quitSent = false;

  constructor(wire: DispatchWire) {
    this.#wire = wire;
  }

  /** Commands waiting for a reply. */
  get pendingCount(): number {
    return this.#table.size;
  }

  get quitSent(): boolean {
    return this.#quitSent;
  }

  /** Runs a command given by name and arguments, resolving with its `return` value. */
  run(
    command: string,
    args: Record<string, unknown> | undefined,
    options?: ExecuteOptions,
  ): Promise<unknown> {
    const schema = this.schema;
    if (schema === undefined) return this.#send(command, args, options, "value", undefined);
    return this.#validated(schema, command, args, options, "value", undefined);
  }

  /** Runs a prebuilt message; `raw` resolves with the whole reply and skips validation. */
  runMessage(
    message: CommandMessage,
    options: ExecuteOptions | undefined,
    mode: ReplyMode,
  ): Promise<unknown> {
    const problem = this.#checkMessage(message);
    if (problem !== undefined) return Promise.reject(problem);
    const command = ((message as QMPMessage).execute ?? (message as QMPMessage)["exec-oob"]) as string;
    const args = message.arguments;
    const schema = this.schema;
    if (mode === "raw" || schema === undefined) return this.#send(command, args, options, mode, message);
    return this.#validated(schema, command, args, options, mode, message);
  }

  async #validated(
    schema: SchemaCache,
    command: string,
    args: Record<string, unknown> | undefined,
    options: ExecuteOptions | undefined,
    mode: ReplyMode,
    prebuilt: CommandMessage | undefined,
  ): Promise<unknown> {
    await schema.check(command, args, () =>
      this.#send("query-qmp-schema", undefined, undefined, "value", undefined),
    );
    return this.#send(command, args, options, mode, prebuilt);
  }

  #send(
    command: string,
    args: Record<string, unknown> | undefined,
    options: ExecuteOptions | undefined,
    mode: ReplyMode,
    prebuilt: CommandMessage | undefined,
  ): Promise<unknown> {
    const oob = options?.oob === true || (prebuilt !== undefined && "exec-oob" in prebuilt);
    if (oob && !this.#wire.capabilities.includes("oob")) {
      return Promise.reject(
        new UsageError(
          "Out-of-band execution was not negotiated (the server did not offer it, or oob: false was given)",
          "QMP_ERR_OOB_NOT_ENABLED",
        ),
      );
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    // The id: the caller's, else none when that cannot be mistaken (see the module comment), else the seq. A raw
    // message the caller sent without an id gets one only when another id-less reply is due, and loses it again
    // in the reply handed back.
    let id: string | number | undefined = prebuilt?.id;
    let seq = -1;
    let stripId = false;
    if (id === undefined) {
      seq = ++this.#seq;
      if (oob || (mode === "raw" ? this.#table.idlessBusy : this.#table.inbandDue > 0)) {
        id = seq;
        stripId = mode === "raw";
      }
    }
    let message: QMPMessage;
    if (prebuilt !== undefined) {
      // A copy by spread: own keys only (a wire "__proto__" stays data), and the caller's object is untouched.
      message = { ...prebuilt };
      if (oob && message.execute !== undefined) {
        message["exec-oob"] = message.execute;
        delete message.execute;
      }
      if (id !== undefined) message.id = id;
    } else if (oob) {
      message =
        args === undefined ? { "exec-oob": command, id } : { "exec-oob": command, arguments: args, id };
    } else if (id === undefined) {
      // Literal keys, not computed ones: this is the per-command hot path.
      message = args === undefined ? { execute: command } : { execute: command, arguments: args };
    } else {
      message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
    }
    try {
      this.#wire.send(message);
    } catch (error) {
      return Promise.reject(error);
    }
    if (command === "quit") this.#quitSent = true;
    const pending = new Pending(this.#table, id, seq, message as SentCommand, mode);
    pending.stripId = stripId;
    this.#table.add(pending);
    if (signal !== undefined || options?.timeoutMs !== undefined) pending.arm(options?.timeoutMs, signal);
    return pending.promise;
  }

  /** Hands a reply to the command it answers. Throws {@link ServerParseError} for an error nobody asked for. */
  route(reply: QMPMessage): void {
    const id = reply.id;
    const logger = this.#wire.logger;
    if (typeof id === "number" || typeof id === "string" || id === undefined) {
      const pending = this.#table.take(id);
      if (pending !== undefined) {
        if (id === undefined && logger.enabled) logger.debug(`The reply above answers ${pending.label}`);
        this.#settle(pending, reply);
        return;
      }
      const late = this.#table.forgetAbandoned(id);
      if (late !== undefined) {
        if (logger.enabled) logger.debug(`Dropped the late reply of abandoned command ${late.label}`);
        return;
      }
      if (id !== undefined) {
        // qmp-spec: "Clients should drop all the responses that have an unknown id field."
        if (logger.enabled) logger.warn(`Dropped a reply with unknown id ${JSON.stringify(id)}`);
        return;
      }
      if (reply.error !== undefined) {
        // QEMU could not parse something it was sent, so it could not read its id: the reply belongs to no one
        // and the stream's state is unknown. Ending the session is the only safe recovery (qmp-spec, "Errors").
        const desc = isErrorBody(reply.error) ? reply.error.desc : previewJson(reply.error);
        throw new ServerParseError(`QEMU reported an error for input it could not parse: ${desc}`, reply);
      }
    }
    if (logger.enabled) logger.warn(`Dropped an unexpected message: ${previewJson(reply)}`);
  }

  #settle(pending: Pending, reply: QMPMessage): void {
    const failed = !("return" in reply);
    if (failed && pending.command === "quit") this.#quitSent = false;
    if (pending.mode === "raw") {
      if (pending.stripId) delete reply.id;
      pending.resolve(reply);
    } else if (!failed) {
      pending.resolve(reply.return);
    } else if (isErrorBody(reply.error)) {
      pending.reject(new ExecuteError(reply, reply.error, pending.message));
    } else {
      pending.reject(
        new BadReplyError(
          reply.error === undefined
            ? `The reply to "${pending.command}" has neither "return" nor "error"`
            : `The reply to "${pending.command}" has a malformed "error" member`,
          reply,
          pending.message,
        ),
      );
    }
  }

  /**
   * The session ended (`error`: why, undefined on a clean close): every pending command rejects with
   * {@link ExecInterruptedError} — except a `quit` whose reply the close overtook, which QEMU did carry out.
   */
  interruptAll(error: unknown): void {
    const quitting = this.#quitSent && error === undefined;
    this.#quitSent = false;
    for (const pending of this.#table.drain()) {
      if (quitting && pending.mode === "value" && pending.command === "quit") pending.resolve({});
      else
        pending.reject(
          new ExecInterruptedError(pending.command, error === undefined ? {} : { cause: error }),
        );
    }
  }

  /** What is wrong with a prebuilt message, or undefined when it can be sent. */
  #checkMessage(message: unknown): UsageError | undefined {
    let problem: string | undefined;
    let code = "QMP_ERR_INVALID_MESSAGE";
    if (!isObject(message)) problem = "A command message must be an object";
    else if ((typeof message.execute === "string") === (typeof message["exec-oob"] === "string"))
      problem = 'A command message needs exactly one of "execute" or "exec-oob" (a string)';
    else if (message.arguments !== undefined && !isObject(message.arguments))
      problem = '"arguments" must be an object';
    else if (message.id !== undefined && typeof message.id !== "string")
      problem = '"id" must be a string (numbers are the ids the client generates)';
    else if (typeof message.id === "string" && this.#table.has(message.id)) {
      code = "QMP_ERR_DUPLICATE_ID";
      problem = `The id ${JSON.stringify(message.id)} is already in flight; ids must be unique among pending commands`;
    }
    return problem === undefined ? undefined : new UsageError(problem, code);
  }
}
