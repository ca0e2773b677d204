/**
 * Where each recorded profile lives. `with { type: "file" }` makes the import a path: on disk when run from
 * source, and inside the executable after `bun build --compile` (which embeds the file), so the CLI's fake finds
 * its profiles with no `profiles/` directory beside it. Nothing is read until a profile is loaded.
 */

import none72 from "../../profiles/qemu-7.2/none.qprof" with { type: "file" };
import q3572 from "../../profiles/qemu-7.2/q35.qprof" with { type: "file" };
import none100 from "../../profiles/qemu-10.0/none.qprof" with { type: "file" };
import q35100 from "../../profiles/qemu-10.0/q35.qprof" with { type: "file" };
import type { QemuRelease } from "../qemu-10.ts";

/** The QEMU versions with recorded profiles. */
export const PROFILE_VERSIONS: readonly QemuRelease[] = ["7.2", "10.0"];

/** The machines every version has a profile for. */
export const MACHINES = ["none", "q35"] as const;
/** A machine with a recorded profile: `none` (no board at all) or `q35` (a PC with PCIe, as VM managers start). */
export type MachineName = (typeof MACHINES)[number];

export const PROFILE_FILES: Partial<Record<QemuRelease, Record<MachineName, string>>> = {
  "7.2": { none: none72, q35: q3572 },
  "10.0": { none: none100, q35: q35100 },
};
