/**
 * Outgoing migrations whose destination stops reading part-way, run the same way on real QEMU
 * (`scripts/record-migration-failure.ts` writes fixtures/qemu-<version>-migration-failure.json) and on the fake
 * (`migration-failure.test.ts`, with `fake.migration.failAt`). The destination is `head -c 300000`: it exits after
 * 300000 bytes, and QEMU's next write meets a broken pipe.
 */
import type { QMPClient } from "@qmpkit/qmp";

export interface FailureCase {
  readonly name: string;
  readonly description: string;
  /** `migrate-set-parameters` before the migration. */
  readonly parameters: Record<string, number>;
  /** The fake's stand-in for where the real destination gives up: percent of what the migration sends. */
  readonly failAt: number;
}

export const FAILURE_CASES: readonly FailureCase[] = [
  {
    name: "while-running",
    description: "the destination gives up during the first pass, while the guest still runs",
    // The default downtime limit keeps a 1 MiB/s migration in its first pass well past 300000 bytes.
    parameters: { "max-bandwidth": 1_048_576 },
    failAt: 5,
  },
  {
    name: "after-switchover",
    description: "the destination gives up after the switchover stopped the guest",
    // A downtime limit so large that QEMU switches over after its first bandwidth window (~105 kB sent).
    parameters: { "max-bandwidth": 1_048_576, "downtime-limit": 2_000_000 },
    failAt: 40,
  },
];

export const FAILING_URI = "exec:head -c 300000 > /dev/null";

/** What a failed migration left: the events since `migrate` (name and data), and the monitor's view after. */
export interface FailureOutcome {
  events: [string, unknown][];
  queryMigrate: unknown;
  queryStatus: unknown;
}

/**
 * Starts a running guest's migration and waits (polling `query-migrate`, bounded) until it failed and the guest
 * runs again: `settle` lets time pass (real sleeps for QEMU, the manual clock for the fake).
 */
export async function runFailure(
  client: QMPClient,
  failure: FailureCase,
  settle: () => Promise<void>,
): Promise<FailureOutcome> {
  using tap = client.listen();
  await client.execute("migrate-set-capabilities", {
    capabilities: [{ capability: "events", state: true }],
  });
  await client.execute("migrate-set-parameters", failure.parameters);
  await client.execute("cont");
  tap.clear();
  await client.execute("migrate", { uri: FAILING_URI });
  for (let attempt = 0; ; attempt++) {
    if (attempt === 400) throw new Error(`${failure.name}: the migration did not fail and settle`);
    const info = await client.execute("query-migrate");
    const status = await client.execute("query-status");
    if (info.status === "failed" && status.status === "running") break;
    await settle();
  }
  return {
    events: tap.clear().map((e) => [e.event, e.data ?? {}]),
    queryMigrate: await client.execute("query-migrate"),
    queryStatus: await client.execute("query-status"),
  };
}
