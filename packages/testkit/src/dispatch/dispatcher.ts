/**
 * The QMP dispatcher: QEMU's request checks and their error texts, capabilities negotiation, the command table
 * (a test's `fake.handle()` overrides first, then the monitor's own commands, then the VM's, then whatever else
 * the schema names, refused loudly), argument checks against the schema, and turning a handler's outcome into a
 * reply. It serves every session of a fake as their {@link MonitorService}.
 */
import { QMPCommandError } from "../errors.ts";
import { genericError, type ReplyBody } from "../monitor/format.ts";
import type { ParsedInput } from "../monitor/json-stream.ts";
import type { MonitorService, MonitorSession } from "../monitor/session.ts";
import { encodeQemuJson, qdictOrder, RawJson } from "../qjson.ts";
import type { HandleOptions, JsonObject } from "../types.ts";
import { type Handler, HandlerContext } from "./context.ts";
import { benchEvents, monitorCommands } from "./monitor-commands.ts";
import type { QAPISchema } from "./schema-args.ts";

/** Where the dispatcher finds the commands the VM implements. */
export interface CommandSource {
  commandHandler(name: string): Handler | undefined;
  commandNames(): Iterable<string>;
}

/** What the dispatcher is built from. */
export interface DispatcherOptions {
  /** Makes the schema for argument checks and `query-qmp-schema` (undefined: no checks); called once, when needed. */
  readonly schema: () => QAPISchema | undefined;
  /** `query-commands`' names as recorded from QEMU, in its order. */
  readonly recordedCommands: readonly string[];
  readonly vm: CommandSource;
  /** Capabilities the greeting offers. */
  readonly offered: readonly string[];
  readonly version: { qemu: { major: number; minor: number; micro: number }; package: string };
  /** Serve `bench-events`. */
  readonly benchCommands: boolean;
  /** What `ctx.fake` is. */
  readonly fake: unknown;
  emit(event: string, data?: JsonObject): void;
  reportError(client: number | undefined, command: string | undefined, message: string): void;
}

interface Resolved {
  handler: Handler;
  allowOob: boolean;
  validate: boolean;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/**
 * QEMU's checks of a request's members, in the order of `keys`: the member naming the command (`execute`, or
 * `exec-oob` once enabled), "" when none does, or else the text of the first problem.
 */
function checkRequest(msg: JsonObject, keys: readonly string[], oob: boolean): string {
  let execKey = "";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = msg[key];
    let problem: string | undefined;
    if (key === "execute" || (key === "exec-oob" && oob)) {
      if (typeof value !== "string") problem = `QMP input member '${key}' must be a string`;
      else if (execKey !== "") problem = `QMP input member '${key}' clashes with '${execKey}'`;
      else execKey = key;
    } else if (key === "arguments") {
      if (!isObject(value)) problem = "QMP input member 'arguments' must be an object";
    } else if (key !== "id") {
      problem = `QMP input member '${key}' is unexpected`;
    }
    if (problem !== undefined) return problem;
  }
  return execKey;
}

/** Serves QMP on every session of a fake. */
export class Dispatcher implements MonitorService {
  readonly #options: DispatcherOptions;
  readonly #overrides = new Map<string, { handler: Handler; options: HandleOptions }>();
  readonly #monitorCommands: Map<string, Handler>;
  #schemaJson: RawJson | undefined;
  #schemaMade = false;
  #schemaValue: QAPISchema | undefined;

  constructor(options: DispatcherOptions) {
    this.#options = options;
    this.#monitorCommands = monitorCommands({
      offered: options.offered,
      schemaJson: () => this.schemaJson(),
      commandList: () => this.commandList(),
    });
  }

  get #schema(): QAPISchema | undefined {
    if (!this.#schemaMade) {
      this.#schemaValue = this.#options.schema();
      this.#schemaMade = true;
    }
    return this.#schemaValue;
  }

  /** Adds or overrides a command (`fake.handle()`). */
  handle(command: string, handler: Handler, options: HandleOptions = {}): void {
    // What the schema says of the command is read when it is first called: a fake set up with handlers before
    // its one command (the CLI's) must not parse the schema for commands nobody calls.
    this.#overrides.set(command, { handler, options });
  }

  greeting(): string {
    const greeting = { QMP: { version: this.#options.version, capabilities: [...this.#options.offered] } };
    return `${encodeQemuJson(greeting)}\r\n`;
  }

  /** `query-qmp-schema`'s reply, encoded once. */
  schemaJson(): RawJson {
    this.#schemaJson ??= new RawJson(this.#schema?.json() ?? "[]");
    return this.#schemaJson;
  }

  /** `query-commands`' reply: QEMU's recorded list, plus what the schema, the VM and the test added. */
  commandList(): { name: string }[] {
    const { recordedCommands, vm, benchCommands } = this.#options;
    const schema = this.#schema;
    const names = new Set<string>(this.#overrides.keys());
    if (benchCommands) names.add("bench-events");
    const recorded =
      schema === undefined ? [...this.#monitorCommands.keys(), ...vm.commandNames()] : recordedCommands;
    const inSchema = new Set(schema?.commandNames() ?? []);
    for (const name of recorded) if (schema === undefined || inSchema.has(name)) names.add(name);
    for (const name of inSchema) names.add(name);
    return [...names].map((name) => ({ name }));
  }

  input(input: ParsedInput, session: MonitorSession): Promise<void> | undefined {
    if (!input.ok)
      return session.reply({ command: "", hasId: false, id: undefined, body: genericError(input.error) });
    const msg = input.value;
    if (!isObject(msg)) {
      return session.reply({
        command: "",
        hasId: false,
        id: undefined,
        body: genericError("QMP input must be a JSON object"),
      });
    }
    const hasId = Object.hasOwn(msg, "id");
    const id = msg.id;
    const fail = (desc: string) => session.reply({ command: "", hasId, id, body: genericError(desc) });

    // Whether a request has a problem does not depend on the order its members are checked in; which problem QEMU
    // reports does. So the members are checked as they come, and only a request that fails is checked again in
    // QEMU's hash-table order, for the same error text.
    const keys = Object.keys(msg);
    const execKey = checkRequest(msg, keys, session.oob);
    if (execKey !== "execute" && execKey !== "exec-oob" && execKey !== "")
      return fail(checkRequest(msg, qdictOrder(keys), session.oob));
    if (execKey === "") return fail("QMP input lacks member 'execute'");
    const command = msg[execKey] as string;
    const oob = execKey === "exec-oob";
    const args = (msg.arguments ?? {}) as JsonObject;

    const negotiating = session.phase === "negotiation";
    const resolved = negotiating && command !== "qmp_capabilities" ? undefined : this.#resolve(command);
    if (resolved === undefined) {
      const desc = negotiating
        ? "Expecting capabilities negotiation with 'qmp_capabilities'"
        : `The command ${command} has not been found`;
      return session.reply({ command, hasId, id, body: { error: { class: "CommandNotFound", desc } } });
    }
    if (oob && !resolved.allowOob) return fail(`The command ${command} does not support OOB`);
    if (resolved.validate) {
      const problem = this.#schema?.checkArguments(command, args);
      if (problem !== undefined) return fail(problem);
    }
    const context = new HandlerContext(
      session,
      { command, message: msg, hasId, id, oob },
      this.#options.emit,
      this.#options.fake,
    );
    const run = () => this.#run(session, resolved.handler, args, context, negotiating);
    const waiting = session.beforeCommand(command);
    if (waiting === undefined) return run();
    return waiting.then(() => (session.ended ? undefined : run()));
  }

  #resolve(command: string): Resolved | undefined {
    const custom = this.#overrides.get(command);
    const known = this.#schema?.command(command);
    if (custom !== undefined) {
      return {
        handler: custom.handler,
        allowOob: custom.options.allowOob ?? known?.["allow-oob"] === true,
        validate: custom.options.validate ?? known !== undefined,
      };
    }
    const builtin =
      this.#monitorCommands.get(command) ??
      this.#options.vm.commandHandler(command) ??
      (this.#options.benchCommands && command === "bench-events" ? benchEvents : undefined);
    if (builtin !== undefined) {
      return { handler: builtin, allowOob: known?.["allow-oob"] === true, validate: known !== undefined };
    }
    if (known === undefined) return undefined;
    // QEMU has this command, the fake does not emulate it: check the arguments like QEMU, then say so loudly.
    return {
      handler: (_args, ctx) => {
        const message = `qmpkit fake: '${command}' is not implemented; script it with fake.handle('${command}', …)`;
        this.#options.reportError(ctx.client, command, message);
        ctx.fail("GenericError", message);
      },
      allowOob: known["allow-oob"] === true,
      validate: true,
    };
  }

  #run(
    session: MonitorSession,
    handler: Handler,
    args: JsonObject,
    context: HandlerContext,
    negotiating: boolean,
  ): Promise<void> | undefined {
    let result: unknown;
    try {
      result = handler(args, context);
    } catch (error) {
      return this.#finish(session, context, this.#errorBody(context, error), args, negotiating);
    }
    if (!isThenable(result)) {
      const body = { return: result === undefined ? {} : result };
      return this.#finish(session, context, body, args, negotiating);
    }
    return (async () => {
      let body: ReplyBody;
      try {
        // A handler that never settles (hang, disconnect, reset) must not hold the queue once the client is gone.
        const value = await Promise.race([result, session.endedNever]);
        body = { return: value === undefined ? {} : value };
      } catch (error) {
        if (session.ended) return;
        body = this.#errorBody(context, error);
      }
      await this.#finish(session, context, body, args, negotiating);
    })();
  }

  #errorBody(context: HandlerContext, error: unknown): ReplyBody {
    if (error instanceof QMPCommandError) return { error: { class: error.errorClass, desc: error.desc } };
    const message = error instanceof Error ? error.message : String(error);
    this.#options.reportError(
      context.client,
      context.command,
      `handler for '${context.command}' threw: ${message}`,
    );
    return genericError(message);
  }

  #finish(
    session: MonitorSession,
    context: HandlerContext,
    body: ReplyBody,
    args: JsonObject,
    negotiating: boolean,
  ): Promise<void> | undefined {
    if (session.ended) return undefined;
    const { command, hasId, id } = context;
    const negotiated = command === "qmp_capabilities" && negotiating && "return" in body;
    if (negotiated) session.enterCommandMode(Array.isArray(args.enable) && args.enable.includes("oob"));
    const after = (): void => {
      context.replied();
      if (negotiated) session.negotiated();
    };
    const written = session.reply({ command, hasId, id, body });
    if (written === undefined) {
      after();
      return undefined;
    }
    return written.then(after);
  }
}
