/**
 * The fake QEMU inside the binary (`--fake`, `qmpkit fake`): the testkit's `createFakeQemu()` with
 * QEMU 7.2's recorded schema, plus the few answers the CLI wants to demonstrate (a QOM tree, idle
 * job and migration queries).
 *
 * Loaded with a dynamic `import()` so commands that never start a fake do not parse the 200 KB
 * schema at start-up; `bun build --compile` still bundles it into the executable.
 */

import { createFakeQemu, type FakeQemu, type FakeQemuOptions } from "@qmpkit/testkit";
// A static import, so the schema is inside the compiled binary: the testkit's own loader reads the
// fixture from a path next to its source, which does not exist in `dist/qmpkit`. (Workaround until the
// testkit embeds or exports its fixture; see the README.)
import recordedSchema from "../../../packages/testkit/fixtures/qemu-7.2-schema.json" with { type: "json" };
import { qomHandlers } from "./fake-qom.ts";

const SCHEMA = recordedSchema as unknown as NonNullable<Exclude<FakeQemuOptions["schema"], false>>;

/**
 * Starts the embedded fake. `options` are the testkit's (where to listen, `onReceived`, …); the schema
 * is always the embedded one.
 * @example const fake = await startEmbeddedFake(); connect(fake.address)
 */
export async function startEmbeddedFake(options: Omit<FakeQemuOptions, "schema"> = {}): Promise<FakeQemu> {
  const fake = await createFakeQemu({ ...options, schema: SCHEMA });
  // The testkit answers query-commands from its recorded transcript, also read from a path at run
  // time: answer from the embedded schema instead (same names, schema order).
  fake.handle("query-commands", () =>
    SCHEMA.filter((e) => e["meta-type"] === "command").map((e) => ({ name: e.name })),
  );
  for (const [name, handler] of Object.entries(qomHandlers())) fake.handle(name, handler);
  // What QEMU 7.2 answers with no job and no migration running, so `qmpkit progress --fake` works.
  fake.handle("query-jobs", () => []);
  fake.handle("query-block-jobs", () => []);
  fake.handle("query-migrate", () => ({}));
  return fake;
}
