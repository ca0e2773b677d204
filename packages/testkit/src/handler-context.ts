/**
 * The `ctx` a command handler receives: emit events before the reply, fail, hang, drop the connection, write raw
 * bytes, or close after replying.
 */
import type { Connection, ServerCore } from "./connection.ts";
import { QmpCommandError } from "./errors.ts";
import type { FakeQemu } from "./fake-server.ts";
import type { CommandContext, JsonObject } from "./types.ts";

const NEVER = new Promise<never>(() => {});

/** The `ctx` a command handler gets. */
export class HandlerContext implements CommandContext {
  readonly client: number;
  readonly command: string;
  readonly id: unknown;
  readonly hasId: boolean;
  readonly oob: boolean;
  readonly message: JsonObject;
  readonly fake: FakeQemu;
  /** Run after the reply is written (built-ins use it: `quit`). */
  readonly afterReply: (() => void)[] = [];
  readonly #conn: Connection;
  readonly #core: ServerCore;

  constructor(
    conn: Connection,
    core: ServerCore,
    command: string,
    message: JsonObject,
    hasId: boolean,
    id: unknown,
    oob: boolean,
  ) {
    this.#conn = conn;
    this.#core = core;
    this.client = conn.id;
    this.command = command;
    this.message = message;
    this.hasId = hasId;
    this.id = id;
    this.oob = oob;
    this.fake = core.fake;
  }

  get signal(): AbortSignal {
    return this.#conn.signal;
  }

  /** The connection running this command (for built-ins). */
  get connection(): Connection {
    return this.#conn;
  }

  emit(event: string, data?: JsonObject): void {
    this.#core.emitAll(event, data);
  }

  fail(errorClass: string, desc: string): never {
    throw new QmpCommandError(errorClass, desc);
  }

  hang(): Promise<never> {
    return NEVER;
  }

  disconnect(): Promise<never> {
    void this.#conn.close();
    return NEVER;
  }

  reset(): Promise<never> {
    this.#conn.resetNow();
    return NEVER;
  }

  sendRaw(data: string | Uint8Array): void {
    this.#conn.write(data);
  }

  closeAfterReply(): void {
    this.afterReply.push(() => void this.#conn.close());
  }
}
