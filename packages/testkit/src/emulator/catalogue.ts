/**
 * The recorded texts of QEMU 7.2 the emulator prints or checks against (`fixtures/qemu-7.2-cli.json`, written by
 * `scripts/record-emulator.ts`). A dynamic import of a static path: read once, only by the emulator, and
 * embedded by `bun build --compile`.
 */
import { loadRecordedSchema } from "../recorded.ts";
import type { CliTexts } from "./command-line.ts";
import type { Catalogue } from "./validate.ts";

/** Everything recorded: texts for `-version`/`-help` and the lists the checks use. */
export type RecordedCli = CliTexts & Catalogue;

let loaded: Promise<RecordedCli> | undefined;

/** Loads the recorded command-line texts and the schema once. */
export function loadRecordedCli(): Promise<RecordedCli> {
  loaded ??= Promise.all([
    import("../../fixtures/qemu-7.2-cli.json", { with: { type: "json" } }),
    loadRecordedSchema(),
  ]).then(([module, schema]) => ({ ...(module.default as Omit<RecordedCli, "schema">), schema }));
  return loaded;
}
