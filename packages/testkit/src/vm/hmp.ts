/**
 * HMP through QMP (`human-monitor-command`): QEMU's command words and aliases from its `help` text, the texts it
 * prints for an unknown command, and a registry the other subsystems fill (`vm.hmp("info status", …)`). A
 * command QEMU has but no subsystem registered is refused loudly rather than answered wrongly.
 */
import { QMPCommandError } from "../errors.ts";
import type { JsonObject } from "../types.ts";
import { HMP_HELP, HMP_HELP_INFO } from "./hmp-text.ts";
import type { HmpCommand, HmpContext, VmApi, VmCommandContext } from "./types.ts";

/** Each top-level HMP command's help text (with its continuation lines), and its aliases, from `help`. */
const HMP_HELP_LINES = new Map<string, string>();
const HMP_ALIASES = new Map<string, string>();
{
  let current: string | undefined;
  for (const line of HMP_HELP.split("\r\n")) {
    if (line === "") continue;
    if (/^\s/.test(line) && current !== undefined) {
      HMP_HELP_LINES.set(current, `${HMP_HELP_LINES.get(current) ?? ""}${line}\r\n`);
      continue;
    }
    const names = (line.split(" ")[0] ?? "").split("|");
    current = names[0] ?? "";
    HMP_HELP_LINES.set(current, `${line}\r\n`);
    for (const alias of names.slice(1)) HMP_ALIASES.set(alias, current);
  }
}
const HMP_INFO_COMMANDS = new Set(
  HMP_HELP_INFO.split("\r\n")
    .filter((line) => line.startsWith("info "))
    .map((line) => line.split(" ")[1] ?? ""),
);

/** The HMP command registry and `human-monitor-command`. */
export class Hmp {
  readonly #vm: VmApi;
  readonly #commands = new Map<string, HmpCommand>();

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("human-monitor-command", (args, ctx) => this.#run(args, ctx));
    this.register("help", ([sub = ""]) => {
      if (sub === "") return HMP_HELP;
      if (sub === "info") return HMP_HELP_INFO;
      return HMP_HELP_LINES.get(HMP_ALIASES.get(sub) ?? sub) ?? `unknown command: '${sub}'\r\n`;
    });
    // The monitor's own history is empty for a monitor driven through QMP.
    this.register("info history", () => "");
  }

  /** Registers `name` (`"stop"`, or `"info status"` for an `info` subcommand). */
  register(name: string, handler: HmpCommand): void {
    this.#commands.set(name, handler);
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
    const name = HMP_ALIASES.get(word) ?? word;
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
      if (sub === "") return HMP_HELP_INFO;
      const handler = this.#commands.get(`info ${sub}`);
      if (handler !== undefined) return handler(words.slice(2), context);
      if (!HMP_INFO_COMMANDS.has(sub)) return `unknown command: 'info ${sub}'\r\n`;
      return this.#vm.unimplemented(ctx, `HMP command '${words.join(" ")}'`);
    }
    const handler = this.#commands.get(name);
    if (handler !== undefined) return handler(words.slice(1), context);
    if (!HMP_HELP_LINES.has(name)) return `unknown command: '${word}'\r\n`;
    return this.#vm.unimplemented(ctx, `HMP command '${words.join(" ")}'`);
  }
}
