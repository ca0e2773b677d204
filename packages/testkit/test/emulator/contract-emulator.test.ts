/**
 * The contract suite against the emulator launched exactly as real QEMU is (`spawnQemu` with the same default
 * arguments, `-machine none -nodefaults -display none -qmp unix:…,server=on,wait=off`), only the binary differs:
 * a process that greets, negotiates, answers, freezes on SIGSTOP and dies on SIGKILL like qemu-system-x86_64.
 */
import { afterAll, describe } from "bun:test";
import { spawnQemu } from "../../src/index.ts";
import { type ContractTarget, contractScenarios } from "../contract/scenarios.ts";
import { emulatorBinary } from "./emulator-binary.ts";

const binary = emulatorBinary();
afterAll(() => binary[Symbol.dispose]());

async function emulatorTarget(): Promise<ContractTarget> {
  const qemu = await spawnQemu({ binary: binary.path });
  return {
    qemuVersion: "7.2",
    address: qemu.address,
    freeze: async () => qemu.signal("SIGSTOP"),
    kill: async () => {
      await qemu.kill("SIGKILL");
    },
    dispose: async () => {
      await qemu[Symbol.asyncDispose]();
    },
  };
}

describe("contract: the emulator launched as qemu-system-x86_64", () => {
  contractScenarios(emulatorTarget);
});
