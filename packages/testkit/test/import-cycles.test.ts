/**
 * The testkit's source has no import cycle, type-only imports included: a cycle hides a missing layer (the
 * monitor must not know the VM, a subsystem must not know the dispatcher).
 */
import { expect, test } from "bun:test";
import { join, relative, resolve } from "node:path";
import { findCycle, importGraph } from "./import-graph.ts";

const SRC = resolve(import.meta.dir, "../src");

test("the walker sees type-only imports, re-exports and dynamic imports", () => {
  const graph = importGraph(SRC);
  const edges = (file: string) => (graph.get(join(SRC, file)) ?? []).map((t) => relative(SRC, t));
  // import type …
  expect(edges("vm/types.ts")).toContain("vm/clock.ts");
  // export … from
  expect(edges("index.ts")).toContain("faults.ts");
  // import("…")
  expect(edges("recorded.ts")).toEqual([expect.stringContaining("dispatch/schema-args.ts")]);
});

test("a cycle is reported with its files", () => {
  const graph = new Map([
    ["a", ["b"]],
    ["b", ["c"]],
    ["c", ["a"]],
    ["d", []],
  ]);
  expect(findCycle(graph)).toEqual(["a", "b", "c", "a"]);
  expect(
    findCycle(
      new Map([
        ["a", ["b"]],
        ["b", []],
      ]),
    ),
  ).toBeUndefined();
});

test("packages/testkit/src has no import cycle", () => {
  const cycle = findCycle(importGraph(SRC));
  expect(cycle?.map((file) => relative(SRC, file)).join(" -> ")).toBeUndefined();
});
