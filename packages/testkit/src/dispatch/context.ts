/**
 * The `ctx` a command handler receives: emit events before the reply, fail, hang, drop the connection, write raw
 * bytes, or close after replying. The same object is the narrower `VmCommandContext` of the VM's commands.
 */
import { QMPCommandError } from "../errors.ts";
import type { MonitorSession } from "../monitor/session.ts";
import type { CommandContextBase, JsonObject } from "../types.ts";

// Made on the first hang, disconnect or reset, not when the module loads: most processes never need it.
let never: Promise<never> | undefined;

function neverSettles(): Promise<never> {
  never ??= new Promise<never>(() => {});
  return never;
}

/** The `ctx` a command handler gets. `fake` is whatever the fake around the dispatcher put there. */
export class HandlerContext implements CommandContextBase {
  readonly client: number;
  readonly command: string;
  readonly id: unknown;
  readonly hasId: boolean;
  readonly oob: boolean;
  readonly message: JsonObject;
  readonly fake: unknown;
  /** Run after the reply is written. */
  #afterReply: (() => void)[] | undefined;
  readonly #session: MonitorSession;
  readonly #emit: (event: string, data?: JsonObject) => void;

  constructor(
    session: MonitorSession,
    request: { command: string; message: JsonObject; hasId: boolean; id: unknown; oob: boolean },
    emit: (event: string, data?: JsonObject) => void,
    fake: unknown,
  ) {
    this.#session = session;
    this.#emit = emit;
    this.client = session.id;
    this.command = request.command;
    this.message = request.message;
    this.hasId = request.hasId;
    this.id = request.id;
    this.oob = request.oob;
    this.fake = fake;
  }

  get signal(): AbortSignal {
    return this.#session.signal;
  }

  takeFd(): boolean {
    return this.#session.takeFd();
  }

  /** The session running this command (for the monitor's own commands). */
  get session(): MonitorSession {
    return this.#session;
  }

  emit(event: string, data?: JsonObject): void {
    this.#emit(event, data);
  }

  fail(errorClass: string, desc: string): never {
    throw new QMPCommandError(errorClass, desc);
  }

  hang(): Promise<never> {
    return neverSettles();
  }

  disconnect(): Promise<never> {
    void this.#session.close();
    return neverSettles();
  }

  reset(): Promise<never> {
    this.#session.resetNow();
    return neverSettles();
  }

  sendRaw(data: string | Uint8Array): void {
    this.#session.write(data);
  }

  closeAfterReply(): void {
    this.afterReply(() => void this.#session.close());
  }

  afterReply(callback: () => void): void {
    this.#afterReply ??= [];
    this.#afterReply.push(callback);
  }

  /** Runs the `afterReply` callbacks; the dispatcher calls it once the reply is written. */
  replied(): void {
    const callbacks = this.#afterReply;
    if (callbacks !== undefined) for (const callback of callbacks) callback();
  }
}

/** A command implementation as the dispatcher calls it. */
export type Handler = (args: JsonObject, ctx: HandlerContext) => unknown;
