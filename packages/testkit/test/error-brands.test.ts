/**
 * Every error class is branded, so `instanceof` holds across two copies of a package (two versions in one
 * workspace, or a bundled and an installed copy). Each file that defines errors is loaded a second time as a
 * separate module (`?copy`); an error made from the copy's class must be an instance of the original class and of
 * its ancestors, and of no other error class.
 */
import { describe, expect, test } from "bun:test";
import { QMPError } from "@qmpkit/protocol-core";

const FILES = [
  "../../protocol-core/src/errors.ts",
  "../../qmp/src/errors.ts",
  "../../qmp/src/qga/errors.ts",
  "../../qmp/src/fd-passing.ts",
  "../../qmp/src/qapi/schema.ts",
  "../src/errors.ts",
  "../src/qga/errors.ts",
];

type ErrorClass = abstract new (...args: never[]) => Error;

function errorClasses(module: Record<string, unknown>): Map<string, ErrorClass> {
  const classes = new Map<string, ErrorClass>();
  for (const [name, value] of Object.entries(module)) {
    if (typeof value === "function" && value.prototype instanceof Error)
      classes.set(name, value as ErrorClass);
  }
  return classes;
}

function isAncestor(ancestor: ErrorClass, of: ErrorClass): boolean {
  return ancestor === of || Object.prototype.isPrototypeOf.call(ancestor.prototype, of.prototype);
}

describe("instanceof across two copies of a package", () => {
  for (const file of FILES) {
    test(`${file.replace(/^(\.\.\/)+/, "")}: each class knows the other copy's instances, and only its own`, async () => {
      const original = errorClasses(await import(file));
      const copy = errorClasses(await import(`${file}?copy=1`));
      expect(original.size).toBeGreaterThan(0);
      for (const [name, copied] of copy) {
        const ours = original.get(name) as ErrorClass;
        expect(copied).not.toBe(ours);
        // An instance without running a constructor: every class's arguments differ, the brand does not.
        const instance = Object.create(copied.prototype) as Error;
        expect(instance instanceof QMPError).toBe(true);
        for (const [otherName, other] of original) {
          expect([name, otherName, instance instanceof other]).toEqual([
            name,
            otherName,
            isAncestor(other, ours),
          ]);
        }
      }
    });
  }

  test("plain errors and look-alikes are not qmpkit errors", () => {
    expect(new Error("x") instanceof QMPError).toBe(false);
    expect({ name: "QMPError", code: "QMP_ERR" } instanceof QMPError).toBe(false);
    expect((null as unknown as object) instanceof QMPError).toBe(false);
  });
});
