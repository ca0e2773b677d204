/**
 * What a client needs only on request (events, connect retry, fd passing, validation) is evaluated on first use:
 * a one-shot command does not evaluate those modules, the first listener evaluates them all (one chunk in the
 * compiled CLI). See src/lazy-client.ts.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { runFixture } from "./reliability-helpers.ts";

const FIXTURE = join(import.meta.dir, "lazy-client-fixture.ts");
/** Far above the child's run (~0.2 s): a bound on the wait, not a timing assertion. */
const CHILD_BOUND_MS = 30_000;
const LAZY = [
  "connect-retry.ts",
  "event-hub.ts",
  "events.ts",
  "fd-passing.ts",
  "lazy-client.ts",
  "schema-cache.ts",
];

test("a one-shot command evaluates none of the modules a client loads on first use; a listener loads them", async () => {
  const { exitCode, stderr, report } = await runFixture(FIXTURE, [], CHILD_BOUND_MS);
  expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
  const afterCommand = (report?.["query-status"] ?? []) as string[];
  const afterListen = (report?.listen ?? []) as string[];
  expect(afterCommand).toContain("client.ts");
  expect(afterCommand.filter((path) => LAZY.includes(path))).toEqual([]);
  expect(afterListen.filter((path) => LAZY.includes(path))).toEqual(LAZY);
});
