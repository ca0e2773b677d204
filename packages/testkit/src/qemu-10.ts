/**
 * QEMU 10.0 beside the host's QEMU: the Debian 13 tree that `scripts/qemu-10.0-tree.sh` builds, run through the
 * wrapper it prints (`chroot TREE qemu-system-x86_64 …`). Only /tmp is shared between the tree and the host, so
 * every path QEMU is given must live there.
 */
import { accessSync, constants } from "node:fs";
import { SpawnQemuError } from "./errors.ts";

/** The QEMU generations the testkit starts: the host's own (Debian 12 ships 7.2) and the Debian 13 tree's. */
export type QemuRelease = "7.2" | "10.0";

/** Where `scripts/qemu-10.0-tree.sh` puts its wrapper when no directory is given. */
export const DEFAULT_QEMU10_BINARY = "/var/cache/qmpkit/qemu-system-x86_64-10.0";

/** The only directory whose paths mean the same file inside the tree and on the host (a bind mount). */
export const QEMU10_SHARED_DIR = "/tmp";

/** The QEMU 10.0 wrapper: `$QMPKIT_QEMU10` (which `.ci/run` exports), else {@link DEFAULT_QEMU10_BINARY}. */
export function qemu10Binary(): string {
  const fromEnv = process.env.QMPKIT_QEMU10;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_QEMU10_BINARY;
}

/** Whether QEMU 10.0 can run here: the wrapper exists and we are root (chroot needs it). */
export function hasQemu10(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    accessSync(qemu10Binary(), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether QEMU 10.0 tests should be skipped: only when the tree is missing and `CI` is not `"true"` (in CI the
 * tests run, and {@link requireQemu10} fails them).
 *
 * @example
 * describe.skipIf(skipWithoutQemu10())("QEMU 10.0", () => { … spawnQemu({ qemuVersion: "10.0" }) … });
 */
export function skipWithoutQemu10(): boolean {
  return !hasQemu10() && process.env.CI !== "true";
}

/** Throws a {@link SpawnQemuError} saying how to get QEMU 10.0 when it cannot run here. */
export function requireQemu10(): void {
  if (hasQemu10()) return;
  const why =
    process.getuid?.() !== 0 ? "running it needs root (chroot)" : `${qemu10Binary()} does not exist`;
  throw new SpawnQemuError(
    `QEMU 10.0 is not available: ${why}. Build it with scripts/qemu-10.0-tree.sh (as root) and set ` +
      `QMPKIT_QEMU10 to the path it prints${process.env.CI === "true" ? " (CI=true requires it)" : ""}`,
  );
}
