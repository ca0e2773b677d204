/**
 * HMP through QMP (`human-monitor-command`): QEMU's command words and aliases from its `help` text, the texts it
 * prints for an unknown command, and a registry the other subsystems fill (`vm.hmp("info status", …)`). A
 * command QEMU has but no subsystem registered is refused loudly rather than answered wrongly.
 *
 * `help` and `help info` are the profile's recordings, so each generation has its own commands (10.0 dropped
 * `singlestep` and `info profile`, added `one-insn-per-tb` and `info cryptodev`…) and its own wording. A machine
 * without a profile (unit tests of the VM) knows only the commands its subsystems register.
 */
import { QMPCommandError } from "../errors.ts";
import type { MachineProfile } from "../profiles/profile.ts";
import type { JsonObject } from "../types.ts";
import { PROVIDES } from "./provides.ts";
import type { HmpCommand, HmpContext, SubsystemProvides, VmApi, VmCommandContext } from "./types.ts";

/** One QEMU's HMP help, parsed: what `help`, `help CMD` and `info` print, and which words it knows. */
interface HmpHelp {
  /** `help` (and `?`). */
  readonly help: string;
  /** `help info` (and `info` alone). */
  readonly helpInfo: string;
  /** Each top-level command's help text (with its continuation lines), by its first name. */
  readonly lines: ReadonlyMap<string, string>;
  /** Alias → first name (`c` → `cont`). */
  readonly aliases: ReadonlyMap<string, string>;
  readonly infoCommands: ReadonlySet<string>;
}

const parsedHelp = new WeakMap<MachineProfile, HmpHelp>();

function recordedHelp(profile: MachineProfile | undefined): HmpHelp {
  const cached = profile === undefined ? undefined : parsedHelp.get(profile);
  if (cached !== undefined) return cached;
  const text = (line: string): string => {
    const reply = profile?.reply("human-monitor-command", { "command-line": line });
    return reply?.kind === "return" ? (reply.value() as string) : "";
  };
  const help = text("help");
  const helpInfo = text("help info");
  const lines = new Map<string, string>();
  const aliases = new Map<string, string>();
  let current: string | undefined;
  for (const line of help.split("\r\n")) {
    if (line === "") continue;
    if (/^\s/.test(line) && current !== undefined) {
      lines.set(current, `${lines.get(current) ?? ""}${line}\r\n`);
      continue;
    }
    const names = (line.split(" ")[0] ?? "").split("|");
    current = names[0] ?? "";
    lines.set(current, `${line}\r\n`);
    for (const alias of names.slice(1)) aliases.set(alias, current);
  }
  const infoCommands = new Set(
    helpInfo
      .split("\r\n")
      .filter((line) => line.startsWith("info "))
      .map((line) => line.split(" ")[1] ?? ""),
  );
  const parsed = { help, helpInfo, lines, aliases, infoCommands };
  if (profile !== undefined) parsedHelp.set(profile, parsed);
  return parsed;
}

/** The HMP command registry and `human-monitor-command`. */
export class Hmp {
  static readonly provides: SubsystemProvides = PROVIDES.hmp;

  readonly #vm: VmApi;
  readonly #commands = new Map<string, HmpCommand>();
  #parsedHelp: HmpHelp | undefined;
  readonly #fallbacks: ((name: string) => HmpCommand | undefined)[] = [];

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("human-monitor-command", (args, ctx) => this.#run(args, ctx));
    this.register("help", ([sub = ""]) => {
      const help = this.#help();
      if (sub === "") return help.help;
      if (sub === "info") return help.helpInfo;
      return help.lines.get(help.aliases.get(sub) ?? sub) ?? `unknown command: '${sub}'\r\n`;
    });
    // The monitor's own history is empty for a monitor driven through QMP.
    this.register("info history", () => "");
  }

  /** Parsed on the first HMP command: most sessions never send one. */
  #help(): HmpHelp {
    this.#parsedHelp ??= recordedHelp(this.#vm.machine.profile);
    return this.#parsedHelp;
  }

  /** Registers `name` (`"stop"`, or `"info status"` for an `info` subcommand). */
  register(name: string, handler: HmpCommand): void {
    this.#commands.set(name, handler);
  }

  /**
   * Adds a lookup asked, when a command is run, for a name nobody registered: a registration always wins over it,
   * whenever it was made. For answers that cost something to find (recorded texts) and are rarely asked for.
   */
  fallback(lookup: (name: string) => HmpCommand | undefined): void {
    this.#fallbacks.push(lookup);
  }

  #handler(name: string): HmpCommand | undefined {
    this.#vm.provideHmp(name);
    const handler = this.#commands.get(name);
    if (handler !== undefined) return handler;
    for (const lookup of this.#fallbacks) {
      const found = lookup(name);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  #run(args: JsonObject, ctx: VmCommandContext): string {
    if (args["cpu-index"] !== undefined && this.#vm.machine.name === "none") {
      // -machine none has no CPUs, so every index is wrong.
      throw new QMPCommandError("GenericError", "Parameter 'cpu-index' expects a CPU number");
    }
    if (typeof args["command-line"] !== "string") {
      throw new QMPCommandError("GenericError", "Parameter 'command-line' is missing");
    }
    const line = args["command-line"].trim();
    const words = line.split(/\s+/).filter((w) => w.length > 0);
    const [word = "", sub = ""] = words;
    if (word === "") return "";
    const help = this.#help();
    const name = help.aliases.get(word) ?? word;
    const context: HmpContext = {
      client: ctx.client,
      command: ctx.command,
      get signal() {
        return ctx.signal;
      },
      afterReply: (callback) => ctx.afterReply(callback),
      line,
    };
    if (name === "info") {
      if (sub === "") return help.helpInfo;
      const handler = this.#handler(`info ${sub}`);
      if (handler !== undefined) return handler(words.slice(2), context);
      if (!help.infoCommands.has(sub)) return `unknown command: 'info ${sub}'\r\n`;
      return this.#vm.unimplemented(ctx, `HMP command '${words.join(" ")}'`);
    }
    const handler = this.#handler(name);
    if (handler !== undefined) return handler(words.slice(1), context);
    if (!help.lines.has(name)) return `unknown command: '${word}'\r\n`;
    return this.#vm.unimplemented(ctx, `HMP command '${words.join(" ")}'`);
  }
}
