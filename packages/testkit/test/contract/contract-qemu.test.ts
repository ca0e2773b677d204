/**
 * The contract suite against real QEMU, once per generation: the host's `qemu-system-x86_64` (7.2) and the
 * Debian 13 tree's 10.0 (scripts/qemu-10.0-tree.sh), each `-machine none`. A generation that is missing is
 * skipped, except under CI=true, where requireQemu()/requireQemu10() fail every scenario.
 */
import { describe } from "bun:test";
import {
  type QemuRelease,
  requireQemu,
  requireQemu10,
  skipWithoutQemu,
  skipWithoutQemu10,
  spawnQemu,
} from "../../src/index.ts";
import { framingScenarios } from "./framing.ts";
import { type ContractTarget, contractScenarios } from "./scenarios.ts";

const generations: { version: QemuRelease; skip: boolean; require: () => void }[] = [
  { version: "7.2", skip: skipWithoutQemu(), require: () => requireQemu() },
  { version: "10.0", skip: skipWithoutQemu10(), require: requireQemu10 },
];

for (const { version, skip, require } of generations) {
  async function qemuTarget(): Promise<ContractTarget> {
    require();
    const qemu = await spawnQemu({ qemuVersion: version });
    return {
      qemuVersion: version,
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

  describe.skipIf(skip)(`contract: real QEMU ${version}`, () => {
    contractScenarios(qemuTarget, version);
    framingScenarios(qemuTarget, version);
  });
}
