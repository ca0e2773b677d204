/**
 * The {@link Session} the commands see, over `@qmpkit/qmp`'s client. It adds what a person at a
 * terminal needs and the library rightly leaves out: errors that name the server and say what to do,
 * an event stream that ends when the session ends, and one place that closes the embedded fake.
 */

import {
  ExecInterruptedError,
  type QMPClient,
  type QMPEvent,
  Runstate,
  StateError,
  UsageError,
} from "@qmpkit/qmp";
import { ConnectionLostError, isExecuteError, MessageRefusedError } from "./errors.ts";
import type { QMPEventLike, Session } from "./session.ts";

/**
 * The client's `connect`, for session.ts's one import() of this module: importing `@qmpkit/qmp` there as well
 * would load a chunk of its own (a stub re-exporting the package from the chunks this module already loads).
 */
export { connect } from "@qmpkit/qmp";

/**
 * A live connection as a {@link Session}. Events are read from the client's default listener, which
 * buffers every event from the start of the session (1024 at most, oldest dropped first), so an event
 * that arrives in the same read as the negotiation reply is not lost before anyone iterates.
 */
export class ClientSession implements Session {
  readonly #client: QMPClient;
  readonly #label: string;
  readonly #afterClose: (() => Promise<void>) | undefined;
  readonly #embeddedFake: boolean;
  /** Aborts when the session ends; made by the first events() call (see {@link #endSignal}). */
  #ended: AbortController | undefined;
  #closing: Promise<void> | undefined;

  /**
   * @param label how messages name the server (`unix:/tmp/qmp.sock`, `the embedded fake QEMU`).
   * @param afterClose runs once the client has disconnected (stops the embedded fake).
   */
  constructor(client: QMPClient, label: string, afterClose?: () => Promise<void>, embeddedFake = false) {
    this.#client = client;
    this.#label = label;
    this.#afterClose = afterClose;
    this.#embeddedFake = embeddedFake;
  }

  get greeting(): unknown {
    return this.#client.greeting;
  }

  async execute(
    command: string,
    args?: Record<string, unknown>,
    options: { signal?: AbortSignal } = {},
  ): Promise<unknown> {
    try {
      return await this.#client.executeUntyped(
        command,
        args,
        options.signal ? { signal: options.signal } : {},
      );
    } catch (error) {
      throw this.#translate(error, command);
    }
  }

  /**
   * The testkit's fake tells a test author to script a missing command with `fake.handle(...)`; someone at
   * the command line gets what they can do instead.
   */
  #reword(desc: string): string {
    if (!this.#embeddedFake) return desc;
    const command = NOT_IMPLEMENTED.exec(desc)?.[1];
    if (command === undefined) return desc;
    return `the embedded fake QEMU does not emulate '${command}'; try it on a real QEMU ('qmpkit qemu -- …'), or give it a canned answer: 'qmpkit fake --script FILE.json' (see 'qmpkit fake --help')`;
  }

  async sendRaw(message: Record<string, unknown>): Promise<unknown> {
    try {
      // The client checks the shape; a message it cannot send is reported below, not sent.
      const reply = (await this.#client.executeRaw(message as Parameters<QMPClient["executeRaw"]>[0])) as {
        error?: { class: string; desc: string };
      };
      if (reply.error === undefined) return reply;
      return { ...reply, error: { ...reply.error, desc: this.#reword(reply.error.desc) } };
    } catch (error) {
      throw this.#translate(error, String(message.execute ?? message["exec-oob"] ?? "message"));
    }
  }

  async *events(
    options: { names?: readonly string[]; signal?: AbortSignal } = {},
  ): AsyncGenerator<QMPEventLike> {
    const source = this.#client.events;
    const ended = this.#endSignal();
    const stop = options.signal ? AbortSignal.any([options.signal, ended]) : ended;
    const wanted = options.names ? new Set(options.names) : undefined;
    while (true) {
      let event: QMPEvent;
      // Buffered events are delivered even after a stop: they arrived before it.
      if (!source.empty()) event = await source.get();
      else if (stop.aborted) return;
      else {
        try {
          event = await source.get({ signal: stop });
        } catch (error) {
          if (stop.aborted) continue;
          throw error;
        }
      }
      if (wanted === undefined || wanted.has(event.event)) yield event;
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    try {
      await this.#client.disconnect();
    } catch (error) {
      // disconnect() rethrows what ended the session abnormally (QEMU killed, a reset), once.
      throw new ConnectionLostError(`the connection to ${this.#label} broke: ${messageOf(error)}`, {
        cause: error,
      });
    } finally {
      this.#ended?.abort(SESSION_ENDED);
      await this.#afterClose?.();
    }
  }

  /**
   * A signal that aborts once the client leaves RUNNING: QEMU quit or died, or close() was called. Only events()
   * needs it, so it is made there: a one-shot `exec` neither allocates the controller nor walks runstateChanges()
   * (an async iteration: 10 more functions run, ~0.26 ms of exec --fake). Watching from a later start misses
   * nothing: a session that already left RUNNING aborts the signal at once.
   */
  #endSignal(): AbortSignal {
    if (this.#ended === undefined) {
      const ended = new AbortController();
      this.#ended = ended;
      void this.#watchEnd(ended);
    }
    return this.#ended.signal;
  }

  async #watchEnd(ended: AbortController): Promise<void> {
    if (this.#client.runstate === Runstate.RUNNING) {
      for await (const state of this.#client.runstateChanges()) {
        if (state !== Runstate.RUNNING) break;
      }
    }
    ended.abort(SESSION_ENDED);
  }

  #translate(error: unknown, command: string): unknown {
    if (isExecuteError(error)) {
      const desc = this.#reword(error.desc);
      return desc === error.desc ? error : new RewordedExecuteError(error.errorClass, desc, error);
    }
    // instanceof, not code strings: qmpkit's error classes are branded, so this holds for a second copy too.
    if (error instanceof StateError) {
      return new ConnectionLostError(
        `the connection to ${this.#label} is closed; '${command}' was not sent`,
        {
          cause: error,
        },
      );
    }
    if (error instanceof ExecInterruptedError) {
      const cause = error.cause;
      const why = cause === undefined ? "" : `: ${messageOf(cause)}`;
      return new ConnectionLostError(
        `the connection to ${this.#label} closed before '${command}' was answered${why}`,
        { cause: error },
      );
    }
    // The client's refusals of a message it will not send as typed (bad shape, reserved or duplicate id, no oob).
    if (error instanceof UsageError) {
      return new MessageRefusedError(`not sent: ${messageOf(error)}`, { cause: error });
    }
    return error;
  }
}

/**
 * The reason `#ended` aborts with. Nothing reads it (events() only stops on it), and a reason given spares the
 * DOMException that a bare `abort()` makes, whose first construction costs a one-shot CLI ~0.03 ms.
 */
const SESSION_ENDED = "the session ended";

const NOT_IMPLEMENTED = /^qmpkit fake: '([^']+)' is not implemented; script it with fake\.handle/;

/** A server error whose text the CLI rewrote; `isExecuteError` knows it by its code, like the original. */
class RewordedExecuteError extends Error {
  override name = "ExecuteError";
  readonly code = "QMP_ERR_EXECUTE";
  readonly errorClass: string;
  readonly desc: string;

  constructor(errorClass: string, desc: string, cause: unknown) {
    super(`${errorClass}: ${desc}`, { cause });
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
