/**
 * The capability probe: what a VM manager asks to learn what this QEMU can do (machine types, CPU models and
 * their expansions, QOM types and their properties, command-line options, TPM/SEV/SGX support). The answers
 * depend only on the QEMU binary, the machine and the accelerator, so they are served from the recorded profile
 * with QEMU's exact bytes and errors rather than modelled. A subsystem that models one of these commands later
 * (e.g. `query-tpm` once TPM devices exist) registers it after this one and replaces it.
 */
import { QMPCommandError } from "../errors.ts";
import { UNKNOWN_NAMES } from "../profiles/format.ts";
import { requestKey } from "../profiles/key.ts";
import type { MachineProfile, ProfileReply } from "../profiles/profile.ts";
import { RawJson } from "../qjson.ts";
import type { JsonObject } from "../types.ts";
import { Hmp } from "./hmp.ts";
import { PROBE_COMMANDS, PROBE_HMP, PROVIDES } from "./provides.ts";
import type { SubsystemProvides, VmApi, VmCommandContext } from "./types.ts";

/**
 * For a name QEMU does not know, the recording holds the error for a made-up name: the same text with the
 * caller's name in it is QEMU's answer. Each entry says which argument carries the name and where it sits.
 */
const UNKNOWN_NAME_ERRORS: Record<
  string,
  { placeholder: string; nameOf(args: JsonObject): unknown; asked: JsonObject }
> = {
  "device-list-properties": {
    placeholder: UNKNOWN_NAMES.type,
    nameOf: (args) => args.typename,
    asked: { typename: UNKNOWN_NAMES.type },
  },
  "qom-list-properties": {
    placeholder: UNKNOWN_NAMES.type,
    nameOf: (args) => args.typename,
    asked: { typename: UNKNOWN_NAMES.type },
  },
  "query-command-line-options": {
    placeholder: UNKNOWN_NAMES.name,
    nameOf: (args) => args.option,
    asked: { option: UNKNOWN_NAMES.name },
  },
  "query-cpu-model-expansion": {
    placeholder: UNKNOWN_NAMES.name,
    nameOf: (args) => (args.model as { name?: unknown } | undefined)?.name,
    asked: { type: "static", model: { name: UNKNOWN_NAMES.name } },
  },
};

// Display devices whose module needs QEMU's spice module.
const QXL = new Set(["qxl", "qxl-vga"]);

/** Serves the recorded capability probe. */
export class Probe {
  static readonly provides: SubsystemProvides = PROVIDES.probe;

  readonly #vm: VmApi;
  /** Names QEMU knows, per argument kind: a name outside these gets the recorded "not found" error. */
  #knownNames: { types: Set<string>; options: Set<string>; cpuModels: Set<string> } | undefined;
  /** Whether a client made QEMU load its spice module (see #spiceOptions). */
  #spiceLoaded = false;

  constructor(vm: VmApi) {
    this.#vm = vm;
    // A VM built without a recording (unit tests of the VM itself) has no probe to serve.
    const recorded = vm.machine.profile;
    if (recorded === undefined) return;
    const has = new Set(vm.machine.commands);
    for (const command of PROBE_COMMANDS) {
      if (has.has(command)) vm.command(command, (args, ctx) => this.#answer(command, args, ctx));
    }
    // Looked up when asked, not at start-up: finding these texts inflates parts of the profile most sessions
    // never read. A subsystem that registers one of these lines answers instead, as when it replaced ours.
    const lines = new Set(PROBE_HMP);
    vm.get(Hmp).fallback((line) => {
      if (!lines.has(line)) return undefined;
      const reply = recorded.reply("human-monitor-command", { "command-line": line });
      if (reply?.kind !== "return") return undefined;
      const text = reply.value() as string;
      return () => text;
    });
  }

  /** The names QEMU knows, read from the recording on first use (most sessions never ask a name it lacks). */
  get #known(): { types: Set<string>; options: Set<string>; cpuModels: Set<string> } {
    if (this.#knownNames !== undefined) return this.#knownNames;
    const recorded = this.#vm.machine.profile;
    if (recorded === undefined) {
      this.#knownNames = { types: new Set(), options: new Set(), cpuModels: new Set() };
      return this.#knownNames;
    }
    const has = new Set(this.#vm.machine.commands);
    this.#knownNames = {
      types: new Set(recorded.types().map((t) => t.name)),
      options: new Set(
        (recorded.returnOf("query-command-line-options") as { option: string }[]).map((o) => o.option),
      ),
      cpuModels: new Set(
        has.has("query-cpu-definitions")
          ? (recorded.returnOf("query-cpu-definitions") as { name: string }[]).map((d) => d.name)
          : [],
      ),
    };
    return this.#knownNames;
  }

  #answer(command: string, args: JsonObject, ctx: VmCommandContext): unknown {
    const recorded = this.#vm.machine.profile as MachineProfile;
    const asked = normaliseArgs(command, args);
    if (
      command === "qom-list-types" ||
      (command === "device-list-properties" && QXL.has(String(asked.typename)))
    ) {
      this.#spiceLoaded = true;
    }
    if (command === "query-command-line-options") {
      const withSpice = this.#spiceOptions(recorded, asked);
      if (withSpice !== undefined) return withSpice;
    }
    const reply = recorded.reply(command, asked);
    if (reply !== undefined) return serve(reply);
    if (recorded.crash(command, asked) !== undefined) {
      // QEMU aborts on this one (an assertion in QEMU itself); a fake that died would help nobody.
      this.#vm.unimplemented(
        ctx,
        `${requestKey(command, asked)} (QEMU ${this.#vm.machine.qemuVersion} aborts here)`,
      );
    }
    const unknown = UNKNOWN_NAME_ERRORS[command];
    const name = unknown?.nameOf(asked);
    if (unknown !== undefined && typeof name === "string" && !this.#knows(command, name)) {
      const template = recorded.reply(command, unknown.asked);
      if (template?.kind === "error") {
        throw new QMPCommandError(template.errorClass, template.desc.replaceAll(unknown.placeholder, name));
      }
    }
    return this.#vm.unimplemented(
      ctx,
      `${requestKey(command, asked)} (not recorded in the ${this.#vm.machine.name} profile of QEMU ${this.#vm.machine.qemuVersion})`,
    );
  }

  /**
   * QEMU 7.2 lists the `spice` option group only once its spice module is loaded: by `qom-list-types` (which loads
   * every QOM module) or by `device-list-properties` of a QXL display (whose module needs it). Measured on 7.2
   * `-machine none`: 35 groups before, 36 after, `spice` second. Undefined: answer from the recording as it is.
   */
  #spiceOptions(recorded: MachineProfile, asked: JsonObject): unknown {
    const spice = recorded.reply("query-command-line-options", { option: "spice" });
    if (spice?.kind !== "return" || this.#known.options.has("spice")) return undefined;
    if (asked.option === "spice") {
      return this.#spiceLoaded ? undefined : this.#unknownOption("spice", recorded);
    }
    if (!this.#spiceLoaded || asked.option !== undefined) return undefined;
    const groups = recorded.returnOf("query-command-line-options") as unknown[];
    return [...groups.slice(0, 1), ...(spice.value() as unknown[]), ...groups.slice(1)];
  }

  #unknownOption(name: string, recorded: MachineProfile): never {
    const { placeholder, asked } = UNKNOWN_NAME_ERRORS["query-command-line-options"] as {
      placeholder: string;
      asked: JsonObject;
    };
    const template = recorded.reply("query-command-line-options", asked);
    if (template?.kind !== "error") throw new Error("the profile has no unknown-option error recorded");
    throw new QMPCommandError(template.errorClass, template.desc.replaceAll(placeholder, name));
  }

  #knows(command: string, name: string): boolean {
    if (command === "query-command-line-options") return this.#known.options.has(name);
    // `host`, `max` and `base` are models QEMU expands without listing them all in query-cpu-definitions.
    if (command === "query-cpu-model-expansion")
      return this.#known.cpuModels.has(name) || name === "host" || name === "base";
    return this.#known.types.has(name);
  }
}

/** QEMU treats an optional flag given as its default like an absent one; so does the lookup. */
function normaliseArgs(command: string, args: JsonObject): JsonObject {
  if (command === "qom-list-types" && args.abstract === false) {
    const { abstract: _abstract, ...rest } = args;
    return rest;
  }
  return args;
}

function serve(reply: ProfileReply): unknown {
  if (reply.kind === "error") throw new QMPCommandError(reply.errorClass, reply.desc);
  // QEMU's exact text: its number formatting, key order and integers beyond 2^53 reach the client unchanged.
  return new RawJson(reply.text);
}
