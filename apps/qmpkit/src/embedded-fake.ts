/**
 * The fake QEMU inside the binary (`--fake`, `qmpkit fake`): the testkit's `createFakeQemu()`, whose
 * recorded QEMU 7.2 schema and command list `bun build --compile` embeds, plus the few answers the
 * CLI wants to demonstrate (a QOM tree, idle job and migration queries).
 *
 * Loaded with a dynamic `import()` so commands that never start a fake do not load the testkit at
 * start-up.
 */

import { createFakeQemu, type FakeQemu } from "@qmpkit/testkit/fake";
import { qomHandlers } from "./fake-qom.ts";

/** Adds the CLI's answers to a fake: QOM from a recorded `-machine none` tree, idle jobs and migration. */
export function addEmbeddedAnswers(fake: FakeQemu): void {
  for (const [name, handler] of Object.entries(qomHandlers())) fake.handle(name, handler);
  // What QEMU 7.2 answers with no job and no migration running, so `qmpkit progress --fake` works.
  fake.handle("query-jobs", () => []);
  fake.handle("query-block-jobs", () => []);
  fake.handle("query-migrate", () => ({}));
}

/**
 * Starts the embedded fake, reachable only from this process (`inproc:` address).
 * @example const fake = await startEmbeddedFake(); const client = await connect(fake.address);
 */
export async function startEmbeddedFake(): Promise<FakeQemu> {
  const fake = await createFakeQemu({ inProcess: true });
  addEmbeddedAnswers(fake);
  return fake;
}
