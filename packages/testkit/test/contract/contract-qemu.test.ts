/**
 * The contract suite against a real `qemu-system-x86_64 -machine none`. Skipped when QEMU is missing, except
 * under CI=true, where requireQemu() fails every scenario.
 */
import { describe } from "bun:test";
import { requireQemu, skipWithoutQemu, spawnQemu } from "../../src/index.ts";
import { type ContractTarget, contractScenarios } from "./scenarios.ts";

async function qemuTarget(): Promise<ContractTarget> {
  requireQemu();
  const qemu = await spawnQemu();
  return {
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

describe.skipIf(skipWithoutQemu())("contract: real QEMU", () => {
  contractScenarios(qemuTarget);
});
