/**
 * The machine a fake stands in for: its name, the schema the dispatcher checks arguments against, and the
 * profile recorded from real QEMU for it (`src/profiles/`: QOM types and tree, probe replies by command and
 * arguments). {@link loadMachine} is what `createFakeQemu({ machine })` calls.
 */
import type { SchemaEntry } from "../dispatch/schema-args.ts";
import type { SchemaText } from "../dispatch/schema-text.ts";
import type { MachineName } from "../profiles/files.ts";
import { loadProfile, type MachineProfile } from "../profiles/profile.ts";
import type { QemuRelease } from "../qemu-10.ts";

export type { MachineName } from "../profiles/files.ts";

/** The machine as the VM model sees it. */
export interface Machine {
  /** `none` or `q35`. */
  readonly name: MachineName;
  /** The QEMU generation whose recording this is (`7.2`, `10.0`). */
  readonly qemuVersion: QemuRelease;
  /** The greeting's `version` as that QEMU wrote it (undefined in unit tests: the fake's 7.2 default). */
  readonly version?: { qemu: { major: number; minor: number; micro: number }; package: string };
  /**
   * QEMU's introspection schema (`query-qmp-schema`); the same binary gives the same schema for every machine.
   * Parsed on first read (187 KB of JSON: a fake that only greets never needs it).
   */
  readonly schema: readonly SchemaEntry[];
  /** `query-commands`' names in QEMU's order (parsed on first read: a fake asked one command never needs them). */
  readonly commands: readonly string[];
  /**
   * Constant replies for commands no subsystem models: command name → its `return` value, served as-is (a
   * subsystem that registers the command replaces it). The capability probe is served by `probe.ts` instead.
   */
  readonly replies: ReadonlyMap<string, unknown>;
  /**
   * What real QEMU answered for this machine, recorded (undefined only in unit tests of the VM): any reply by
   * command and arguments, the QOM tree with every property value, the start-up state to seed a model from.
   */
  readonly profile: MachineProfile | undefined;
}

/**
 * The schema as the fake reads it: a recording's text, whose entries are parsed as they are asked for (a
 * one-command session reads a few of ~1,100), or, for a machine without a recording, its entries.
 */
export function schemaSource(machine: Machine): readonly SchemaEntry[] | SchemaText {
  return machine.profile?.schemaText() ?? machine.schema;
}

/** Loads the machine `name` with its profile recorded from QEMU `qemuVersion`. */
export async function loadMachine(name: MachineName, qemuVersion: QemuRelease = "7.2"): Promise<Machine> {
  if (name !== "none" && name !== "q35") throw new TypeError(`Unknown machine ${JSON.stringify(name)}`);
  if (qemuVersion !== "7.2" && qemuVersion !== "10.0") {
    throw new TypeError(`No recordings of QEMU ${JSON.stringify(qemuVersion)}: "7.2" or "10.0"`);
  }
  const profile = await loadProfile({ qemuVersion, machine: name });
  const greeting = JSON.parse(profile.greetingText) as { QMP: { version: NonNullable<Machine["version"]> } };
  let commands: readonly string[] | undefined;
  return {
    name,
    qemuVersion,
    version: greeting.QMP.version,
    get schema() {
      return profile.schema();
    },
    get commands() {
      commands ??= profile.commands();
      return commands;
    },
    replies: new Map(),
    profile,
  };
}
