/**
 * The fake QEMU alone (`@qmpkit/testkit/fake`): what a program embedding the fake needs, without the rest of the
 * index (the emulator, the guest-agent fake, QEMU launchers, the standalone CLI and its `node:util`), whose
 * modules a bundle would otherwise evaluate at start-up.
 */
export { QMPCommandError } from "./errors.ts";
export type { CommandContext, CommandHandler } from "./fake-server.ts";
export { createFakeQemu, FakeQemu } from "./fake-server.ts";
export { RawJson } from "./qjson.ts";
