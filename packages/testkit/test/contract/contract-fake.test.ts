/** The contract suite against the fake QEMU (with its default, QEMU-like behaviour). */
import { describe } from "bun:test";
import { createFakeQemu } from "../../src/index.ts";
import { type ContractTarget, contractScenarios } from "./scenarios.ts";

async function fakeTarget(): Promise<ContractTarget> {
  const fake = await createFakeQemu();
  return {
    qemuVersion: "7.2",
    address: fake.address,
    // A frozen QEMU reads nothing and answers nothing; a hanging handler is the fake's equivalent.
    freeze: async () => {
      fake.handle("human-monitor-command", (_args, ctx) => ctx.hang());
    },
    kill: () => fake.kill(),
    dispose: () => fake.close(),
  };
}

describe("contract: fake QEMU", () => {
  contractScenarios(fakeTarget);
});
