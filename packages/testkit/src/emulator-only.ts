/**
 * The drop-in emulator alone (`@qmpkit/testkit/emulator`): `runEmulator` with QEMU's command line, without the
 * rest of the index (the standalone CLI and its `node:util`, QEMU launchers, transcripts, replay), whose modules
 * a bundle would otherwise evaluate before the first monitor listens.
 */
export type { EmulatorIO, RunEmulatorOptions } from "./emulator/run.ts";
export { runEmulator } from "./emulator/run.ts";
