/**
 * Child process of lazy-build.test.ts: starts a fake as the CLI's `exec --fake` does, runs commands over a client,
 * and prints which of the VM's modules (`src/vm/`) had been evaluated after each step. A child of its own, because
 * a test file's imports would have evaluated them already.
 */
import { connect } from "@qmpkit/qmp";
import { createFakeQemu } from "../../src/fake-only.ts";

const VM_DIR = `${import.meta.dir.replace(/test\/vm$/, "src/vm")}/`;

function evaluated(): string[] {
  return Object.keys(require.cache)
    .filter((path) => path.startsWith(VM_DIR))
    .map((path) => path.slice(VM_DIR.length))
    .sort();
}

const report: Record<string, string[]> = {};
await using fake = await createFakeQemu({ inProcess: true });
report.started = evaluated();
await using client = await connect(fake.address);
await client.execute("query-status");
report["query-status"] = evaluated();
await client.execute("query-block");
report["query-block"] = evaluated();
console.log(JSON.stringify(report));
