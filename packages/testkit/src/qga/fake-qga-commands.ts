import { QMPCommandError } from "../errors.ts";
import { encodeQemuJson } from "../qjson.ts";
import type { FakeQGAFaults, FakeQGAHandler } from "./types.ts";

/** State the built-in commands share. */
export interface FakeQGAState {
  version: string;
  frozen: boolean;
  readonly handlers: Map<string, FakeQGAHandler>;
}

type ParamType = "int" | "str" | "strs";
const TYPE_NAMES: Record<ParamType, string> = { int: "integer", str: "string", strs: "array" };

/** qemu-ga's argument checks, with its messages: missing, unexpected, wrongly typed members. */
function checkArgs(
  args: Record<string, unknown>,
  spec: Record<string, ParamType>,
  required: readonly string[],
): void {
  for (const name of required) {
    if (!(name in args)) throw new QMPCommandError("GenericError", `Parameter '${name}' is missing`);
  }
  for (const [name, value] of Object.entries(args)) {
    const type = spec[name];
    if (type === undefined) throw new QMPCommandError("GenericError", `Parameter '${name}' is unexpected`);
    const ok =
      type === "int"
        ? Number.isSafeInteger(value)
        : type === "str"
          ? typeof value === "string"
          : Array.isArray(value);
    if (!ok)
      throw new QMPCommandError(
        "GenericError",
        `Invalid parameter type for '${name}', expected: ${TYPE_NAMES[type]}`,
      );
  }
}

const NO_SUCCESS_RESPONSE = new Set([
  "guest-shutdown",
  "guest-suspend-disk",
  "guest-suspend-ram",
  "guest-suspend-hybrid",
]);

const encoder = new TextEncoder();

/** The commands a fresh fake knows, as qemu-ga 7.2 answers them on a Debian guest. */
export function builtinHandlers(
  faults: () => FakeQGAFaults,
  state: FakeQGAState,
): [string, FakeQGAHandler][] {
  return [
    [
      "guest-sync-delimited",
      async (args, ctx) => {
        checkArgs(args, { id: "int" }, ["id"]);
        const id = args.id as number;
        const active = faults();
        if (active.garbageBeforeSentinel !== undefined) await ctx.sendRaw(active.garbageBeforeSentinel);
        // A stale reply is what a client sees when an earlier client's sync was answered after it left.
        if (active.staleSyncReply)
          await ctx.sendRaw(delimited(encodeQemuJson({ return: id === 1 ? 2 : id - 1 }, true)));
        await ctx.sendRaw(delimited(encodeQemuJson({ return: id }, true)));
        return ctx.noReply;
      },
    ],
    [
      "guest-sync",
      (args) => {
        checkArgs(args, { id: "int" }, ["id"]);
        return args.id;
      },
    ],
    [
      "guest-ping",
      (args) => {
        checkArgs(args, {}, []);
        return {};
      },
    ],
    [
      "guest-info",
      (args) => {
        checkArgs(args, {}, []);
        return {
          version: state.version,
          supported_commands: [...state.handlers.keys()].map((name) => ({
            enabled: true,
            name,
            "success-response": !NO_SUCCESS_RESPONSE.has(name),
          })),
        };
      },
    ],
    [
      "guest-get-osinfo",
      (args) => {
        checkArgs(args, {}, []);
        return {
          name: "Debian GNU/Linux",
          "kernel-release": "6.1.0-qmpkit-fake",
          version: "12 (bookworm)",
          "pretty-name": "Debian GNU/Linux 12 (bookworm)",
          "version-id": "12",
          "kernel-version": "#1 SMP PREEMPT_DYNAMIC",
          machine: "x86_64",
          id: "debian",
        };
      },
    ],
    [
      "guest-get-time",
      (args) => {
        checkArgs(args, {}, []);
        // Nanoseconds since the epoch exceed 2^53: a bigint keeps the reply exact, as the agent's is.
        return BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(performance.now() * 1000) % 1000) * 1000n;
      },
    ],
    [
      "guest-shutdown",
      (args, ctx) => {
        checkArgs(args, { mode: "str" }, []);
        const mode = args.mode ?? "powerdown";
        if (mode !== "halt" && mode !== "powerdown" && mode !== "reboot") {
          // Error text verbatim from qemu-ga 7.2, unbalanced parenthesis included.
          throw new QMPCommandError(
            "GenericError",
            "mode is invalid (valid values are: halt|powerdown|reboot",
          );
        }
        ctx.disconnect();
        return ctx.noReply;
      },
    ],
    [
      "guest-fsfreeze-status",
      (args) => {
        checkArgs(args, {}, []);
        return state.frozen ? "frozen" : "thawed";
      },
    ],
    [
      "guest-fsfreeze-freeze",
      (args) => {
        checkArgs(args, {}, []);
        // While frozen, qemu-ga disables every command but a few (text from QEMU's qmp_dispatch; not recorded,
        // because freezing this host's filesystems to record it is not an option).
        if (state.frozen) {
          throw new QMPCommandError(
            "CommandNotFound",
            "Command guest-fsfreeze-freeze has been disabled: the agent is in frozen state",
          );
        }
        state.frozen = true;
        return 1;
      },
    ],
    [
      "guest-fsfreeze-thaw",
      (args) => {
        checkArgs(args, {}, []);
        const thawed = state.frozen ? 1 : 0;
        state.frozen = false;
        return thawed;
      },
    ],
  ];
}

function delimited(json: string): Uint8Array {
  const body = encoder.encode(`${json}\n`);
  const bytes = new Uint8Array(body.length + 1);
  bytes[0] = 0xff;
  bytes.set(body, 1);
  return bytes;
}
