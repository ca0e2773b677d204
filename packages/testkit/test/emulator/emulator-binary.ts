/**
 * A `qemu-system-x86_64` that is the emulator: a two-line shell script of that name in a private temp dir that
 * runs `emulator-main.ts` with its arguments, so anything that takes a QEMU binary path (`spawnQemu({ binary })`,
 * the flows' `startQemu`) runs the fake exactly as it would run QEMU.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const EMULATOR_MAIN = join(import.meta.dir, "emulator-main.ts");

/** Creates the script; dispose removes it. */
export function emulatorBinary(): { readonly path: string } & Disposable {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-emu-bin-"));
  const path = join(dir, "qemu-system-x86_64");
  writeFileSync(path, `#!/bin/sh\nexec '${process.execPath}' '${EMULATOR_MAIN}' "$@"\n`);
  chmodSync(path, 0o755);
  return { path, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}
