/**
 * The fake's built-in commands: what QEMU 7.2 (`-machine none`) answers, as recorded in
 * `fixtures/qemu-7.2-transcript.jsonl`, including the events QEMU sends before a command's reply.
 */
import type { ServerCore } from "./connection.ts";
import { nowMicros } from "./connection.ts";
import { QmpCommandError } from "./errors.ts";
import { HandlerContext } from "./handler-context.ts";
import { HMP_HELP, HMP_HELP_INFO } from "./hmp-text.ts";
import type { RawJson } from "./qjson.ts";
import type { CommandContext, JsonObject } from "./types.ts";

/** The emulated machine's state and identity, shared by every connection. */
export interface VmState {
  /** QEMU's RunState (`running`, `paused`, `shutdown`, …). */
  status: string;
  readonly version: { qemu: { major: number; minor: number; micro: number }; package: string };
  readonly name: string | undefined;
  readonly offered: readonly string[];
  readonly core: ServerCore;
  schemaJson(): RawJson | unknown[];
  commandList(): { name: string }[];
}

type Builtin = (args: JsonObject, ctx: CommandContext, vm: VmState) => unknown;

// RunStates after which `cont` requires a reset first (QEMU's runstate_needs_reset()).
const NEEDS_RESET = new Set(["internal-error", "shutdown", "guest-panicked"]);

function internal(ctx: CommandContext): HandlerContext {
  if (!(ctx instanceof HandlerContext)) throw new Error("built-in command called outside the fake");
  return ctx;
}

function stop(ctx: CommandContext, vm: VmState): void {
  // A second stop changes nothing and sends no event, as in QEMU.
  if (vm.status !== "running") return;
  vm.status = "paused";
  ctx.emit("STOP");
}

function cont(ctx: CommandContext, vm: VmState): void {
  if (NEEDS_RESET.has(vm.status)) {
    throw new QmpCommandError("GenericError", "Resetting the Virtual Machine is required");
  }
  if (vm.status === "running") return;
  vm.status = "running";
  ctx.emit("RESUME");
}

/** The built-in command table. */
export const BUILTIN_COMMANDS: ReadonlyMap<string, Builtin> = new Map<string, Builtin>([
  [
    "qmp_capabilities",
    (args, ctx, vm) => {
      if (internal(ctx).connection.phase === "command") {
        throw new QmpCommandError(
          "CommandNotFound",
          "Capabilities negotiation is already complete, command ignored",
        );
      }
      const wanted = Array.isArray(args.enable) ? (args.enable as string[]) : [];
      const unavailable = wanted.filter((cap) => !vm.offered.includes(cap));
      if (unavailable.length > 0) {
        throw new QmpCommandError("GenericError", `Capability ${unavailable.join(", ")} not available`);
      }
      return {};
    },
  ],
  ["query-version", (_a, _c, vm) => ({ qemu: { ...vm.version.qemu }, package: vm.version.package })],
  [
    "query-status",
    (_a, _c, vm) => ({ status: vm.status, singlestep: false, running: vm.status === "running" }),
  ],
  ["stop", (_a, ctx, vm) => stop(ctx, vm)],
  ["cont", (_a, ctx, vm) => cont(ctx, vm)],
  ["system_reset", (_a, ctx) => ctx.emit("RESET", { guest: false, reason: "host-qmp-system-reset" })],
  ["system_powerdown", (_a, ctx) => ctx.emit("POWERDOWN")],
  [
    "quit",
    (_a, ctx, vm) => {
      const context = internal(ctx);
      vm.status = "shutdown";
      ctx.emit("SHUTDOWN", { guest: false, reason: "host-qmp-quit" });
      context.afterReply.push(() => vm.core.quitRequested(context.connection));
    },
  ],
  ["query-commands", (_a, _c, vm) => vm.commandList()],
  ["query-qmp-schema", (_a, _c, vm) => vm.schemaJson()],
  ["query-name", (_a, _c, vm) => (vm.name === undefined ? {} : { name: vm.name })],
  ["query-kvm", () => ({ enabled: false, present: true })],
  ["query-yank", () => [{ type: "chardev", id: "compat_monitor0" }]],
  ["yank", () => ({})],
  [
    "migrate-pause",
    () => {
      throw new QmpCommandError(
        "GenericError",
        "migrate-pause is currently only supported during postcopy-active state",
      );
    },
  ],
  [
    "migrate-recover",
    () => {
      throw new QmpCommandError("GenericError", "Migrate recover can only be run when postcopy is paused.");
    },
  ],
  ["human-monitor-command", (args, ctx, vm) => humanMonitorCommand(args, ctx, vm)],
]);

/** Commands that only exist when `benchCommands` is on. */
export const BENCH_COMMANDS: ReadonlyMap<string, Builtin> = new Map<string, Builtin>([
  ["bench-events", (args, ctx) => benchEvents(args, ctx)],
]);

function humanMonitorCommand(args: JsonObject, ctx: CommandContext, vm: VmState): string {
  if (args["cpu-index"] !== undefined) {
    // -machine none has no CPUs, so every index is wrong.
    throw new QmpCommandError("GenericError", "Parameter 'cpu-index' expects a CPU number");
  }
  if (typeof args["command-line"] !== "string") {
    throw new QmpCommandError("GenericError", "Parameter 'command-line' is missing");
  }
  const words = args["command-line"]
    .trim()
    .split(/\s+/)
    .filter((w) => w.length > 0);
  const [word = "", sub = ""] = words;
  if (word === "") return "";
  const name = HMP_ALIASES.get(word) ?? word;
  const v = vm.version;
  switch (name) {
    case "info":
      switch (sub) {
        case "":
          return HMP_HELP_INFO;
        case "status":
          return `VM status: ${vm.status === "running" ? "running" : vm.status}\r\n`;
        case "version":
          return `${v.qemu.major}.${v.qemu.minor}.${v.qemu.micro}${v.package}\r\n`;
        case "name":
          return vm.name === undefined ? "" : `${vm.name}\r\n`;
        case "kvm":
          return "kvm support: disabled\r\n";
        case "uuid":
          return "00000000-0000-0000-0000-000000000000\r\n";
        case "cpus":
        case "history":
          return "";
        default:
          if (!HMP_INFO_COMMANDS.has(sub)) return `unknown command: 'info ${sub}'\r\n`;
          return unimplemented(ctx, vm, words.join(" "));
      }
    case "help":
      if (sub === "") return HMP_HELP;
      if (sub === "info") return HMP_HELP_INFO;
      return HMP_HELP_LINES.get(HMP_ALIASES.get(sub) ?? sub) ?? `unknown command: '${sub}'\r\n`;
    case "stop":
      stop(ctx, vm);
      return "";
    case "cont":
      cont(ctx, vm);
      return "";
    case "system_reset":
      ctx.emit("RESET", { guest: false, reason: "host-qmp-system-reset" });
      return "";
    case "system_powerdown":
      ctx.emit("POWERDOWN");
      return "";
    default:
      if (!HMP_HELP_LINES.has(name)) return `unknown command: '${word}'\r\n`;
      return unimplemented(ctx, vm, words.join(" "));
  }
}

function unimplemented(ctx: CommandContext, vm: VmState, line: string): never {
  // QEMU knows this command; answering "unknown" would be a lie, answering nothing a silent hole in a test.
  vm.core.reportError(
    ctx.client,
    "human-monitor-command",
    `HMP command '${line}' is not implemented by the fake`,
  );
  throw new QmpCommandError("GenericError", `qmpkit fake: HMP command '${line}' is not implemented`);
}

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

// Bench events are written in batches: one string per batch, one write syscall, and a pause whenever the peer
// lets more than this many bytes pile up, so a million events never sit in memory at once.
const BENCH_BATCH = 2048;
const BENCH_HIGH_WATER = 4 * 1024 * 1024;

async function benchEvents(args: JsonObject, ctx: CommandContext): Promise<JsonObject> {
  const count = args.count;
  if (typeof count !== "number" || !Number.isInteger(count) || count < 0) {
    throw new QmpCommandError("GenericError", "Invalid parameter type for 'count', expected: integer");
  }
  const conn = internal(ctx).connection;
  for (let n = 0; n < count && !conn.ended; ) {
    const end = Math.min(count, n + BENCH_BATCH);
    const us = nowMicros();
    const head = `{"timestamp": {"seconds": ${Math.floor(us / 1e6)}, "microseconds": ${us % 1e6}}, "event": "BENCH", "data": {"n": `;
    let batch = "";
    for (; n < end; n++) batch += `${head}${n}}}\r\n`;
    conn.write(batch);
    // Yielding a microtask lets the writer hand this batch to the kernel before the next one is built.
    if (conn.bufferedBytes > BENCH_HIGH_WATER) await conn.flushed();
    else await null;
  }
  return {};
}
