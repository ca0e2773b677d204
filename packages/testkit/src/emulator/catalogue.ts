/**
 * The recorded texts of QEMU 7.2 the emulator prints or checks against (`fixtures/qemu-7.2-cli.json`, written by
 * `scripts/record-emulator.ts`). A dynamic import of a static path: read once, only by the emulator, and
 * embedded by `bun build --compile`.
 */
import { loadProfile } from "../profiles/profile.ts";
import type { QemuVersion } from "../qemu-10.ts";
import { loadRecordedSchema } from "../recorded.ts";
import type { CliTexts } from "./command-line.ts";
import type { Catalogue } from "./validate.ts";

/** Everything recorded: texts for `-version`/`-help` and the lists the checks use. */
export type RecordedCli = CliTexts & Catalogue;

const loaded = new Map<QemuVersion, Promise<RecordedCli>>();

/**
 * Loads the recorded command-line texts and the schema once per generation. For 10.0, `-version` and the schema
 * are 10.0's (from its profile); the other texts and lists (`-help`, `-machine help`, …) are still 7.2's.
 */
export function loadRecordedCli(qemuVersion: QemuVersion = "7.2"): Promise<RecordedCli> {
  let cli = loaded.get(qemuVersion);
  if (cli === undefined) {
    const seven = Promise.all([
      import("../../fixtures/qemu-7.2-cli.json", { with: { type: "json" } }),
      loadRecordedSchema(),
    ]).then(([module, schema]) => ({ ...(module.default as Omit<RecordedCli, "schema">), schema }));
    cli =
      qemuVersion === "7.2"
        ? seven
        : Promise.all([seven, loadProfile({ qemuVersion, machine: "none" })]).then(([base, profile]) => ({
            ...base,
            // The profile keeps the text without its final newline; QEMU prints one.
            version: `${profile.versionText}\n`,
            schema: profile.schema(),
          }));
    loaded.set(qemuVersion, cli);
  }
  return cli;
}
