/**
 * Machine profiles: what was recorded from real QEMU 7.2 for one `-machine` type, served by the fake. This file
 * is the plug: {@link loadMachineProfile} is what `createFakeQemu({ machine })` calls.
 */
import type { SchemaEntry } from "../dispatch/schema-args.ts";
import { loadRecordedCommandList, loadRecordedSchema } from "../recorded.ts";

/** The machines the fake can stand in for. */
export type MachineName = "none" | "q35";

/** What was recorded from QEMU for one machine. */
export interface MachineProfile {
  /** `none` or `q35`. */
  readonly name: MachineName;
  /** QEMU's introspection schema (`query-qmp-schema`); the same binary gives the same schema for every machine. */
  readonly schema: readonly SchemaEntry[];
  /** `query-commands`' names in QEMU's order. */
  readonly commands: readonly string[];
  /**
   * Constant replies recorded from QEMU for commands no subsystem models (`query-target`, `query-machines`, …):
   * command name → its `return` value, served as-is.
   */
  readonly replies: ReadonlyMap<string, unknown>;
}

/** Loads the profile of `name`. */
export async function loadMachineProfile(name: MachineName): Promise<MachineProfile> {
  if (name !== "none" && name !== "q35") throw new TypeError(`Unknown machine ${JSON.stringify(name)}`);
  const [schema, commands] = await Promise.all([loadRecordedSchema(), loadRecordedCommandList()]);
  // q35's own recordings (QOM tree, probe replies) come with the profiles; until then both share the schema.
  return { name, schema, commands, replies: new Map() };
}
