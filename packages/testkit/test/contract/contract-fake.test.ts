/**
 * The contract suite against the fake QEMU (with its default, QEMU-like behaviour), once per generation it
 * stands in for: `createFakeQemu()` is 7.2, `createFakeQemu({ qemuVersion: "10.0" })` must pass the scenarios
 * the way real QEMU 10.0 does. The contract scenarios also run over an in-process connection (`inProcess: true`,
 * what the CLI's `--fake` uses): they must not tell it from a socket. The framing scenarios need a raw socket that
 * half-closes, which an in-process connection does not model.
 */
import { describe } from "bun:test";
import { createFakeQemu, type QemuRelease } from "../../src/index.ts";
import { framingScenarios } from "./framing.ts";
import { type ContractTarget, contractScenarios } from "./scenarios.ts";

for (const qemuVersion of ["7.2", "10.0"] as const satisfies readonly QemuRelease[]) {
  async function fakeTarget(): Promise<ContractTarget> {
    const fake = await createFakeQemu(qemuVersion === "7.2" ? {} : { qemuVersion });
    return {
      qemuVersion,
      address: fake.address,
      // A frozen QEMU reads nothing and answers nothing; a hanging handler is the fake's equivalent.
      freeze: async () => {
        fake.handle("human-monitor-command", (_args, ctx) => ctx.hang());
      },
      kill: () => fake.kill(),
      dispose: () => fake.close(),
    };
  }

  describe(qemuVersion === "7.2" ? "contract: fake QEMU" : `contract: fake QEMU ${qemuVersion}`, () => {
    contractScenarios(fakeTarget, qemuVersion);
    framingScenarios(fakeTarget, qemuVersion);
  });
}

describe("contract: fake QEMU in process", () => {
  contractScenarios(async () => {
    const fake = await createFakeQemu({ inProcess: true });
    return {
      qemuVersion: "7.2",
      address: fake.address,
      freeze: async () => {
        fake.handle("human-monitor-command", (_args, ctx) => ctx.hang());
      },
      kill: () => fake.kill(),
      dispose: () => fake.close(),
    };
  });
});
