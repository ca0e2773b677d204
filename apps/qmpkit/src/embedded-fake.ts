/**
 * The fake QEMU inside the binary (`--fake`): the testkit's `createFakeQemu()`, whose recorded QEMU 7.2
 * `-machine none` profile (schema, commands, QOM tree) `bun build --compile` embeds.
 *
 * Loaded with a dynamic `import()` so commands that never start a fake do not load the testkit at
 * start-up.
 */

import { createFakeQemu, type FakeQemu } from "@qmpkit/testkit/fake";

/**
 * Starts the embedded fake, reachable only from this process (`inproc:` address).
 * @example const fake = await startEmbeddedFake(); const client = await connect(fake.address);
 */
export function startEmbeddedFake(): Promise<FakeQemu> {
  return createFakeQemu({ inProcess: true });
}
