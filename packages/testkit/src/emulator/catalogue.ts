/**
 * The recorded texts of QEMU 7.2 or 10.0 the emulator prints or checks against (`fixtures/qemu-<V>-cli.json`,
 * written by `scripts/record-emulator.ts`: `-version`, `-help`, the lists, the option table), with that
 * generation's {@link CliDialect}. A dynamic import of a static path: read once, only by the emulator, and
 * embedded by `bun build --compile`.
 */
import { loadProfile } from "../profiles/profile.ts";
import type { QemuRelease } from "../qemu-10.ts";
import type { CliTexts } from "./command-line.ts";
import { CLI_DIALECTS } from "./dialect.ts";
import type { Catalogue } from "./validate.ts";

/** Everything recorded: texts for `-version`/`-help`, the option table and the lists the checks use. */
export type RecordedCli = CliTexts & Catalogue;

const loaded = new Map<QemuRelease, Promise<RecordedCli>>();

// One static import per generation, so `bun build --compile` embeds each file.
const CLI_FILES: Record<QemuRelease, () => Promise<{ default: unknown }>> = {
  "7.2": () => import("../../fixtures/qemu-7.2-cli.json", { with: { type: "json" } }),
  "10.0": () => import("../../fixtures/qemu-10.0-cli.json", { with: { type: "json" } }),
};

/**
 * Loads one generation's recorded command-line texts (`-version`, `-help`, the machine/CPU/device lists, the
 * option table) and its schema, once.
 */
export function loadRecordedCli(qemuVersion: QemuRelease = "7.2"): Promise<RecordedCli> {
  let cli = loaded.get(qemuVersion);
  if (cli === undefined) {
    // The profile's schema (equal to fixtures/qemu-7.2-schema.json for 7.2) is parsed once per QEMU, shared with
    // the machine's own profile, where the fixture would be a second parse of the same 187 KB; and only when a
    // check or a command needs it, not before the first monitor listens.
    const profile = loadProfile({ qemuVersion, machine: "none" });
    cli = Promise.all([CLI_FILES[qemuVersion](), profile]).then(([module, none]) => ({
      ...(module.default as Omit<RecordedCli, "schema" | "dialect">),
      get schema() {
        return none.schema();
      },
      dialect: CLI_DIALECTS[qemuVersion],
    }));
    loaded.set(qemuVersion, cli);
  }
  return cli;
}
