#!/usr/bin/env bun
/**
 * The emulator as a program, for the testkit's tests: `bun emulator-main.ts QEMU-ARGS…` behaves like
 * `qmpkit fake-qemu QEMU-ARGS…` (which calls the same `runEmulator`), without depending on apps/qmpkit.
 */
import { runEmulator } from "../../src/index.ts";

const script = Bun.argv[1] ?? import.meta.path;
process.exitCode = await runEmulator(
  Bun.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr, env: process.env },
  { relaunch: [process.execPath, script] },
);
