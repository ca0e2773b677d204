#!/usr/bin/env bun
/**
 * The fake emulator as libvirt's `<emulator>` sees it: emulatorLink() writes an executable named
 * qemu-system-x86_64 that runs this file, which runs QEMU's command line on the testkit's fake (what
 * `qmpkit fake-qemu` does), from source, so the scenario needs no compiled qmpkit binary.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type QemuRelease, runEmulator } from "../../src/index.ts";

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/**
 * Writes `dir/qemu-system-x86_64`, a shell script that execs this file with bun, and returns its path. `env`
 * (and `QMPKIT_FAKE_QEMU_VERSION` for a `qemuVersion` other than 7.2) is baked into the script because libvirt
 * starts emulators with a scrubbed environment (PATH, HOME, USER, LOGNAME, LC_ALL…): QMPKIT_FAKE_QEMU_SCRIPT or
 * QMPKIT_FAKE_QEMU_LOG set around virsh never reach the fake.
 */
export function emulatorLink(
  dir: string,
  options: { readonly env?: Readonly<Record<string, string>>; readonly qemuVersion?: QemuRelease } = {},
): string {
  const env = {
    ...options.env,
    ...(options.qemuVersion === undefined || options.qemuVersion === "7.2"
      ? {}
      : { QMPKIT_FAKE_QEMU_VERSION: options.qemuVersion }),
  };
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "qemu-system-x86_64");
  const exports = Object.entries(env).map(([name, value]) => `export ${name}=${quote(value)}\n`);
  writeFileSync(
    path,
    `#!/bin/sh\n${exports.join("")}exec ${quote(process.execPath)} ${quote(import.meta.path)} "$@"\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

if (import.meta.main) {
  process.exitCode = await runEmulator(
    Bun.argv.slice(2),
    { stdout: process.stdout, stderr: process.stderr, env: process.env },
    { prog: "qemu-system-x86_64", relaunch: [process.execPath, import.meta.path] },
  );
}
