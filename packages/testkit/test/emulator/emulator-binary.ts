/**
 * A `qemu-system-x86_64` that is the emulator: a two-line shell script of that name in a private temp dir that
 * runs `emulator-main.ts` with its arguments, so anything that takes a QEMU binary path (`spawnQemu({ binary })`,
 * the flows' `startQemu`) runs the fake exactly as it would run QEMU. Given a generation, the script sets
 * `QMPKIT_FAKE_QEMU_VERSION` as a harness that launches the fake as that QEMU would.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QemuRelease } from "../../src/index.ts";

export const EMULATOR_MAIN = join(import.meta.dir, "emulator-main.ts");

/** Creates the script; dispose removes it. */
export function emulatorBinary(qemuVersion?: QemuRelease): { readonly path: string } & Disposable {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-emu-bin-"));
  const path = join(dir, "qemu-system-x86_64");
  const env = qemuVersion === undefined ? "" : `QMPKIT_FAKE_QEMU_VERSION=${qemuVersion} `;
  writeFileSync(path, `#!/bin/sh\n${env}exec '${process.execPath}' '${EMULATOR_MAIN}' "$@"\n`);
  chmodSync(path, 0o755);
  return { path, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}
