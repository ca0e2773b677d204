/**
 * The contract suite against the emulator launched exactly as real QEMU is (`spawnQemu` with the same default
 * arguments, `-machine none -nodefaults -display none -qmp unix:…,server=on,wait=off`), only the binary differs:
 * a process that greets, negotiates, answers, freezes on SIGSTOP and dies on SIGKILL like qemu-system-x86_64 —
 * as 7.2 by default, and as 10.0 when told `QMPKIT_FAKE_QEMU_VERSION=10.0` (contract-qemu.test.ts runs the same
 * scenarios on the real 7.2 and 10.0).
 */
import { afterAll, describe } from "bun:test";
import { type QemuRelease, spawnQemu } from "../../src/index.ts";
import { type ContractTarget, contractScenarios } from "../contract/scenarios.ts";
import { emulatorBinary } from "./emulator-binary.ts";

for (const qemuVersion of ["7.2", "10.0"] as const satisfies readonly QemuRelease[]) {
  const binary = emulatorBinary(qemuVersion === "7.2" ? undefined : qemuVersion);
  afterAll(() => binary[Symbol.dispose]());
  describe(`contract: the emulator launched as qemu-system-x86_64 ${qemuVersion}`, () => {
    contractScenarios(() => emulatorTarget(binary.path, qemuVersion), qemuVersion);
  });
}

async function emulatorTarget(binary: string, qemuVersion: QemuRelease): Promise<ContractTarget> {
  const qemu = await spawnQemu({ binary });
  return {
    qemuVersion,
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
