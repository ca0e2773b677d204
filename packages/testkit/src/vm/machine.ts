/**
 * The machine a fake stands in for: its name, the schema the dispatcher checks arguments against, and the
 * profile recorded from real QEMU 7.2 for it (`src/profiles/`: QOM types and tree, probe replies by command and
 * arguments). {@link loadMachine} is what `createFakeQemu({ machine })` calls.
 */
import type { SchemaEntry } from "../dispatch/schema-args.ts";
import type { MachineName } from "../profiles/files.ts";
import { loadProfile, type MachineProfile } from "../profiles/profile.ts";
import { loadRecordedCommandList, loadRecordedSchema } from "../recorded.ts";

export type { MachineName } from "../profiles/files.ts";

/** The machine as the VM model sees it. */
export interface Machine {
  /** `none` or `q35`. */
  readonly name: MachineName;
  /** QEMU's introspection schema (`query-qmp-schema`); the same binary gives the same schema for every machine. */
  readonly schema: readonly SchemaEntry[];
  /** `query-commands`' names in QEMU's order. */
  readonly commands: readonly string[];
  /**
   * Constant replies for commands no subsystem models: command name → its `return` value, served as-is (a
   * subsystem that registers the command replaces it).
   */
  readonly replies: ReadonlyMap<string, unknown>;
  /** What real QEMU answered for this machine, recorded (undefined only in unit tests of the VM). */
  readonly profile: MachineProfile | undefined;
}

/** Loads the machine `name` with its recorded profile. */
export async function loadMachine(name: MachineName): Promise<Machine> {
  if (name !== "none" && name !== "q35") throw new TypeError(`Unknown machine ${JSON.stringify(name)}`);
  const [schema, commands, profile] = await Promise.all([
    loadRecordedSchema(),
    loadRecordedCommandList(),
    loadProfile({ machine: name }),
  ]);
  return { name, schema, commands, replies: new Map(), profile };
}
