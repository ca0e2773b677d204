/**
 * Steering a fake QEMU that another program launched: a *script* named by an environment variable, and a log of
 * what the monitor received. The program under test passes its environment on to the emulator, so a test sets:
 *
 * - `QMPKIT_FAKE_QEMU_SCRIPT`: a path to a JSON script, or the JSON itself (starts with `{`);
 * - `QMPKIT_FAKE_QEMU_LOG`: a path; every message a monitor receives is appended as one JSON line
 *   (`{"kind":"received","client":1,"at":…,"message":…}`, or `"raw"` + `"error"` when it did not parse), and
 *   what the command line asked for that the model could not create (`{"kind":"not-created",…}`).
 *
 * The script format (version 1) is documented in the testkit README ("Test a program that launches QEMU"). Any
 * member this version does not know is an error: the emulator exits 1 naming it, never ignores it.
 */
import { appendFileSync, readFileSync } from "node:fs";
import { QMPCommandError } from "../errors.ts";
import type { FakeQemu } from "../fake-server.ts";
import { faults as faultHelpers } from "../faults.ts";
import type { Fault, FaultConnection, JsonObject, ReceivedMessage } from "../types.ts";
import { EmulatorExit } from "./command-line.ts";

/** What a loaded script does to the fakes the emulator opens. */
export interface ScriptControl {
  /** Faults for every monitor's connections. */
  readonly faults: Fault[];
  /** Logs each received message, when a log is asked for. */
  readonly onReceived: ((entry: ReceivedMessage) => void) | undefined;
  /** Installs the script's command replies on a fake. */
  install(fake: FakeQemu): void;
  /** Start-up is done: logs what the fake could not create (`fake.errors` so far). */
  started(fake: FakeQemu): void;
}

/** A rule: on the `nth` call of `command` (every call when `nth` is absent), do `action`. */
interface Rule {
  command: string;
  nth?: number;
  action:
    | "crash"
    | "delay"
    | "hang"
    | "disconnect"
    | "reset"
    | "emit"
    | "guest-shutdown"
    | "guest-reboot"
    | "guest-panic";
  ms?: number;
  signal?: NodeJS.Signals;
  event?: string;
  data?: JsonObject;
}

const SCRIPT_KEYS = ["version", "commands", "rules", "faults", "guest", "migration"];
const RULE_ACTIONS = [
  "crash",
  "delay",
  "hang",
  "disconnect",
  "reset",
  "emit",
  "guest-shutdown",
  "guest-reboot",
  "guest-panic",
];
const GUEST_KEYS = ["answerPowerdown", "acknowledgeUnplugs"];
const MIGRATION_KEYS = ["failAt", "times"];

/** Reads the script and log settings from `env`; undefined when neither is set. */
export async function loadScript(
  env: Readonly<Record<string, string | undefined>>,
  prog: string,
): Promise<ScriptControl | undefined> {
  const source = env.QMPKIT_FAKE_QEMU_SCRIPT;
  const logPath = env.QMPKIT_FAKE_QEMU_LOG;
  if (!source && !logPath) return undefined;
  const refuse = (message: string): never => {
    throw new EmulatorExit(1, `${prog}: QMPKIT_FAKE_QEMU_SCRIPT: ${message}\n`);
  };
  let script: Record<string, unknown> = {};
  if (source) {
    try {
      script = JSON.parse(source.trimStart().startsWith("{") ? source : readFileSync(source, "utf8"));
    } catch (error) {
      refuse(error instanceof Error ? error.message : String(error));
    }
  }
  for (const key of Object.keys(script)) {
    if (!SCRIPT_KEYS.includes(key))
      refuse(`unknown member '${key}' (this version knows ${SCRIPT_KEYS.join(", ")})`);
  }
  if (script.version !== undefined && script.version !== 1)
    refuse(`version ${String(script.version)} is not supported (1 is)`);
  const rules = (script.rules ?? []) as Rule[];
  for (const rule of rules) {
    if (!RULE_ACTIONS.includes(rule.action)) refuse(`unknown rule action '${String(rule.action)}'`);
  }
  const faults: Fault[] = [];
  for (const entry of (script.faults ?? []) as { fault: string; args?: unknown[] }[]) {
    const make = (faultHelpers as Record<string, (...args: unknown[]) => Fault>)[entry.fault];
    if (make === undefined) refuse(`unknown fault '${entry.fault}' (see faults.* in the testkit README)`);
    faults.push((make as (...args: unknown[]) => Fault)(...(entry.args ?? [])));
  }
  const guest = (script.guest ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(guest)) {
    if (!GUEST_KEYS.includes(key))
      refuse(`unknown guest member '${key}' (this version knows ${GUEST_KEYS.join(", ")})`);
  }
  for (const key of ["answerPowerdown", "acknowledgeUnplugs"]) {
    if (guest[key] !== undefined && typeof guest[key] !== "boolean")
      refuse(`guest.${key} must be true or false`);
  }
  const migration = (script.migration ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(migration)) {
    if (!MIGRATION_KEYS.includes(key))
      refuse(`unknown migration member '${key}' (this version knows ${MIGRATION_KEYS.join(", ")})`);
  }
  const { failAt, times } = migration;
  if (failAt !== undefined && (typeof failAt !== "number" || !(failAt >= 0 && failAt < 100)))
    refuse(`migration.failAt must be a percent from 0 to below 100, not ${JSON.stringify(failAt)}`);
  if (times !== undefined && (failAt === undefined || typeof times !== "number" || !(times >= 1)))
    refuse(`migration.times must be a number of migrations (at least 1) beside failAt`);
  // The rules act on the VM through the fake, which exists only once the emulator has opened it.
  const vm: { fake: FakeQemu | undefined } = { fake: undefined };
  if (rules.length > 0) faults.push(rulesFault(rules, vm));
  const commands = (script.commands ?? {}) as Record<
    string,
    { return?: unknown; error?: { class: string; desc: string } }
  >;
  const log = (line: Record<string, unknown>) => {
    if (logPath) appendFileSync(logPath, `${JSON.stringify(line)}\n`);
  };
  return {
    faults,
    onReceived:
      logPath === undefined || logPath === ""
        ? undefined
        : (entry) =>
            log(
              entry.error === undefined
                ? { kind: "received", client: entry.client, at: entry.at, message: entry.message }
                : {
                    kind: "received",
                    client: entry.client,
                    at: entry.at,
                    raw: entry.raw,
                    error: entry.error,
                  },
            ),
    started(fake) {
      for (const error of fake.errors)
        log({ kind: "not-created", command: error.command, message: error.message });
    },
    install(fake) {
      vm.fake = fake;
      if (guest.answerPowerdown === true) fake.guest.answerPowerdown();
      if (guest.acknowledgeUnplugs === true) fake.guest.ackUnplugs();
      if (typeof failAt === "number")
        fake.migration.failAt(failAt, typeof times === "number" ? { times } : {});
      for (const [name, reply] of Object.entries(commands)) {
        fake.handle(name, () => {
          if (reply.error !== undefined) throw new QMPCommandError(reply.error.class, reply.error.desc);
          return reply.return ?? {};
        });
      }
    },
  };
}

/** The rules as one fault: counts calls per command over the whole process, as a VM manager's session sees them. */
function rulesFault(rules: Rule[], vm: { fake: FakeQemu | undefined }): Fault {
  const calls = new Map<string, number>();
  return {
    name: "script rules",
    async beforeCommand(command: string, conn: FaultConnection) {
      const count = (calls.get(command) ?? 0) + 1;
      calls.set(command, count);
      for (const rule of rules) {
        if (rule.command !== command || (rule.nth !== undefined && rule.nth !== count)) continue;
        switch (rule.action) {
          case "crash":
            // QEMU dies: no reply, the monitor socket just ends, the process is gone.
            process.kill(process.pid, rule.signal ?? "SIGKILL");
            return new Promise<void>(() => {});
          case "delay":
            await conn.sleep(rule.ms ?? 0);
            break;
          case "hang":
            return new Promise<void>(() => {});
          case "disconnect":
            conn.close();
            return new Promise<void>(() => {});
          case "reset":
            conn.reset();
            return new Promise<void>(() => {});
          case "guest-shutdown":
          case "guest-reboot":
          case "guest-panic": {
            // The guest acts after this command's reply, on its own time, as a guest OS would.
            const guest = vm.fake?.guest;
            setTimeout(() => {
              try {
                if (rule.action === "guest-shutdown") guest?.shutdown();
                else if (rule.action === "guest-reboot") guest?.reboot();
                else guest?.panic();
              } catch {
                // Not running (paused, shut down): a guest that is not running does nothing.
              }
            }, rule.ms ?? 0);
            break;
          }
          case "emit":
            conn.emit(rule.event ?? "", rule.data);
            break;
        }
      }
    },
  };
}
