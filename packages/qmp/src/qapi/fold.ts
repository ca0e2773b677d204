/**
 * Folding of structurally identical types.
 *
 * QEMU keeps one introspection entry per QAPI type, and many types are copies of each other (two events with
 * the same members, the same enum declared for two drivers). Types may be recursive (`BlockdevRef` holds a
 * `BlockdevOptions`, which holds `BlockdevRef`s), so structural equality is computed the way automata are
 * minimised: start from a partition by local shape, then split classes whose members point into different
 * classes, until nothing splits.
 */

import {
  enumValues,
  isOptional,
  lookupType,
  QAPISchemaError,
  referencedTypes,
  type SchemaIndex,
  type TypeEntry,
} from "./schema.ts";

/** The result of folding: every type name maps to the representative of its class. */
export interface TypeClasses {
  /** Representative (the smallest name in code-point order) of the class of `typeName`. */
  readonly classOf: (typeName: string) => string;
  /** All type names of a class, sorted, keyed by representative. */
  readonly members: ReadonlyMap<string, readonly string[]>;
}

/** Partition the schema's type entries into classes of structurally identical types. */
export function foldTypes(index: SchemaIndex): TypeClasses {
  const types: TypeEntry[] = [];
  for (const entry of index.entries.values()) {
    if (entry["meta-type"] !== "command" && entry["meta-type"] !== "event") types.push(entry);
  }
  // Sorting makes class numbering (and so everything downstream) independent of the input order.
  types.sort((a, b) => compareStrings(a.name, b.name));
  const children = new Map<string, string[]>();
  for (const t of types) {
    const refs = referencedTypes(t);
    for (const r of refs) lookupType(index, r);
    children.set(t.name, refs);
  }

  let classId = number(types, (t) => localShape(t));
  let count = new Set(classId.values()).size;
  for (;;) {
    const prev = classId;
    const next = number(types, (t) => {
      const kids = (children.get(t.name) ?? []).map((c) => prev.get(c));
      return `${prev.get(t.name)}|${kids.join(",")}`;
    });
    const nextCount = new Set(next.values()).size;
    classId = next;
    // Each round only refines the previous partition, so an unchanged class count means a fixed point.
    if (nextCount === count) break;
    count = nextCount;
  }

  const byClass = new Map<number, string[]>();
  for (const t of types) {
    const id = classId.get(t.name) ?? -1;
    const list = byClass.get(id);
    if (list === undefined) byClass.set(id, [t.name]);
    else list.push(t.name);
  }
  const repOf = new Map<string, string>();
  const members = new Map<string, readonly string[]>();
  for (const names of byClass.values()) {
    const rep = names[0];
    if (rep === undefined) continue;
    members.set(rep, names);
    for (const n of names) repOf.set(n, rep);
  }
  return {
    classOf(typeName) {
      const rep = repOf.get(typeName);
      if (rep === undefined) throw new QAPISchemaError(`unknown type "${typeName}"`);
      return rep;
    },
    members,
  };
}

/** Everything about a type that is visible in the generated code, except the identity of the types it uses. */
function localShape(t: TypeEntry): string {
  const features = sortedFeatures(t.features);
  switch (t["meta-type"]) {
    case "builtin":
      return JSON.stringify(["builtin", t["json-type"]]);
    case "enum": {
      const memberFeatures = (t.members ?? []).map((m) => [m.name, sortedFeatures(m.features)]);
      return JSON.stringify(["enum", features, enumValues(t), memberFeatures]);
    }
    case "object": {
      const members = t.members.map((m) => [m.name, isOptional(m), sortedFeatures(m.features)]);
      const cases = (t.variants ?? []).map((v) => v.case);
      return JSON.stringify(["object", features, members, t.tag ?? null, cases]);
    }
    case "array":
      return JSON.stringify(["array", features]);
    case "alternate":
      return JSON.stringify(["alternate", features, t.members.length]);
  }
}

/** Feature lists in a canonical order, so that the order QEMU happens to list them in does not matter. */
export function sortedFeatures(features: readonly string[] | undefined): string[] {
  return [...(features ?? [])].sort(compareStrings);
}

/** Code-point order: unlike `localeCompare`, the same on every machine and locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function number(types: readonly TypeEntry[], keyOf: (t: TypeEntry) => string): Map<string, number> {
  const ids = new Map<string, number>();
  const out = new Map<string, number>();
  for (const t of types) {
    const key = keyOf(t);
    let id = ids.get(key);
    if (id === undefined) {
      id = ids.size;
      ids.set(key, id);
    }
    out.set(t.name, id);
  }
  return out;
}
