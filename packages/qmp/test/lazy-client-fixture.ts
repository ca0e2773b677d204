/**
 * Child process of lazy-client.test.ts: runs a one-shot command over a client, as the CLI's `exec` does, then uses
 * an event listener, and prints which of the package's modules had been evaluated after each step. A child of its
 * own, because a test file's imports would have evaluated them already; `client.ts` directly, because the
 * package's index re-exports the listener (a bundle keeps only what is used, the source runs every import).
 */
import { createFakeQemu } from "../../testkit/src/fake-only.ts";
import { connect } from "../src/client.ts";

const SRC_DIR = `${import.meta.dir.replace(/test$/, "src")}/`;

function evaluated(): string[] {
  return Object.keys(require.cache)
    .filter((path) => path.startsWith(SRC_DIR))
    .map((path) => path.slice(SRC_DIR.length))
    .sort();
}

const report: Record<string, string[]> = {};
await using fake = await createFakeQemu({ inProcess: true });
await using client = await connect(fake.address);
await client.execute("query-status");
report["query-status"] = evaluated();
using listener = client.listen();
report.listen = evaluated();
listener.close();
console.log(JSON.stringify(report));
