/**
 * Readable, stable TypeScript names for the schema's types.
 *
 * QEMU masks most type names, so names are derived from where a type is used:
 *
 *   command arguments   -> `<Command>Args`        `blockdev-add`       -> `BlockdevAddArgs`
 *   command return      -> `<Command>Return`      `query-status`       -> `QueryStatusReturn`
 *   event data          -> `<Event>Data`          `SHUTDOWN`           -> `ShutdownData`
 *   object member       -> `<Parent><Member>`     `status` of above    -> `QueryStatusReturnStatus`
 *   flat-union variant  -> `<Parent><Case>`       `file` of above      -> `BlockdevAddArgsFile`
 *   alternate branch    -> `<Parent>Object` | `<Parent>Enum` | `<Parent>List`
 *
 * Arrays are transparent (the element of `[T]` is named as the array's position would be), builtins and empty
 * objects are never named. A type reached from several positions takes the name from the shallowest one
 * (roots are depth 0, their members depth 1, ...); among positions of equal depth the shortest name wins, then
 * code-point order, then the position's own path. A name already taken gets the suffix 2, 3, ... in that same
 * order. Unmasked QAPI names (when QEMU was built to expose them) are kept as they are. None of this looks at
 * the order of the input array or at the numbers QEMU masks names with, so names stay put across QEMU versions
 * as long as the position a type is first reached from does.
 */

import { compareStrings, type TypeClasses } from "./fold.ts";
import { isMaskedName, lookupType, type SchemaIndex } from "./schema.ts";

/** Names reserved for the declarations every generated file has. */
export const reservedNames: readonly string[] = ["Commands", "Events", "EmptyObject"];

/** The naming decisions for one schema. */
export interface TypeNames {
  /** TS name of each class that gets a declaration, keyed by class representative. */
  readonly names: ReadonlyMap<string, string>;
  /** Further unmasked QAPI names of a class, emitted as aliases, keyed by representative. */
  readonly aliases: ReadonlyMap<string, readonly string[]>;
  /** Name of the interface holding a flat union's common members (tag excluded), keyed by representative. */
  readonly bases: ReadonlyMap<string, string>;
  /**
   * Name of each command's arguments and return and each event's data, keyed by {@link rootPath}. When the
   * shape is shared with another root it is an alias of the shared declaration, so that every command still
   * has its own `<Command>Args` and `<Command>Return` (absent for builtins and empty objects).
   */
  readonly roots: ReadonlyMap<string, string>;
}

/** Key of a root position in {@link TypeNames.roots}. */
export function rootPath(kind: "arguments" | "return" | "data", name: string): string {
  return `${kind === "data" ? "event" : "command"} ${name} ${kind}`;
}

interface Candidate {
  readonly rep: string;
  readonly name: string;
  /** Unique description of the position, the last tie-break. */
  readonly path: string;
}

/** `query-status` -> `QueryStatus`, `BLOCK_JOB_READY` -> `BlockJobReady`, `qcow2` -> `Qcow2`. */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => {
      const shouty = /[A-Z]/.test(part) && !/[a-z]/.test(part);
      const rest = shouty ? part.slice(1).toLowerCase() : part.slice(1);
      return part.charAt(0).toUpperCase() + rest;
    })
    .join("");
}

/** Whether a type is an object with nothing in it (emitted as the shared `EmptyObject`). */
export function isEmptyObject(index: SchemaIndex, typeName: string): boolean {
  const t = lookupType(index, typeName);
  return t["meta-type"] === "object" && t.members.length === 0 && (t.variants ?? []).length === 0;
}

/** Decide the names of all types reachable from a command or an event. Unreachable types get none. */
export function nameTypes(index: SchemaIndex, classes: TypeClasses): TypeNames {
  const taken = new Set(reservedNames);
  const names = new Map<string, string>();
  const aliases = new Map<string, string[]>();
  const roots = new Map<string, string>();
  const claim = (wanted: string): string => {
    let name = wanted;
    for (let i = 2; taken.has(name); i++) name = `${wanted}${i}`;
    taken.add(name);
    return name;
  };

  // Unmasked QAPI names are claimed before anything is derived, so a derived name never takes one of them.
  for (const [rep, members] of [...classes.members].sort(([a], [b]) => compareStrings(a, b))) {
    const t = lookupType(index, rep);
    if (t["meta-type"] === "builtin" || t["meta-type"] === "array" || isEmptyObject(index, rep)) continue;
    const visible = members.filter((m) => !isMaskedName(m)).map(identifierFor);
    const unique = [...new Set(visible)].sort(compareStrings);
    const [first, ...rest] = unique;
    if (first === undefined) continue;
    names.set(rep, claim(first));
    if (rest.length > 0) aliases.set(rep, rest.map(claim));
  }

  /** The class a position names, looking through arrays; undefined for builtins and empty objects. */
  const resolve = (typeName: string): string | undefined => {
    let t = lookupType(index, typeName);
    while (t["meta-type"] === "array") t = lookupType(index, t["element-type"]);
    if (t["meta-type"] === "builtin" || isEmptyObject(index, t.name)) return undefined;
    return classes.classOf(t.name);
  };

  let frontier: Candidate[] = [];
  const push = (list: Candidate[], typeName: string, name: string, path: string): void => {
    const rep = resolve(typeName);
    if (rep !== undefined) list.push({ rep, name, path });
  };
  for (const [cmd, entry] of index.commands) {
    push(frontier, entry["arg-type"], `${pascalCase(cmd)}Args`, rootPath("arguments", cmd));
    push(frontier, entry["ret-type"], `${pascalCase(cmd)}Return`, rootPath("return", cmd));
  }
  for (const [event, entry] of index.events) {
    push(frontier, entry["arg-type"], `${pascalCase(event)}Data`, rootPath("data", event));
  }
  const rootCandidates = [...frontier].sort(compareCandidates);

  const reached = new Set<string>();
  /** Winning candidates that named their class (a class with an unmasked name has none). */
  const derived = new Set<Candidate>();
  while (frontier.length > 0) {
    const best = new Map<string, Candidate>();
    for (const c of frontier) {
      if (reached.has(c.rep)) continue;
      const seen = best.get(c.rep);
      if (seen === undefined || compareCandidates(c, seen) < 0) best.set(c.rep, c);
    }
    const level = [...best.values()].sort(compareCandidates);
    const next: Candidate[] = [];
    for (const c of level) {
      reached.add(c.rep);
      let name = names.get(c.rep);
      if (name === undefined) {
        name = claim(c.name);
        names.set(c.rep, name);
        derived.add(c);
      }
      childPositions(c.rep, name, (typeName, childName, path) => push(next, typeName, childName, path));
    }
    if (rootCandidates.length > 0) {
      // Right after depth 0 is named, so that root names win over nested ones of later depths.
      for (const c of rootCandidates.splice(0)) {
        const name = names.get(c.rep) ?? c.name;
        if (name === c.name || derived.has(c)) roots.set(c.path, name);
        else {
          const alias = claim(c.name);
          roots.set(c.path, alias);
          aliases.set(c.rep, [...(aliases.get(c.rep) ?? []), alias]);
        }
      }
    }
    frontier = next;
  }

  // Types nothing reaches (QEMU keeps a few, e.g. for compiled-out targets) cannot appear in Commands/Events.
  for (const rep of [...names.keys()]) {
    if (!reached.has(rep)) {
      names.delete(rep);
      aliases.delete(rep);
    }
  }

  const bases = new Map<string, string>();
  const unions = [...names].filter(([rep]) => hasBaseMembers(rep));
  for (const [rep, name] of unions.sort(([, a], [, b]) => compareStrings(a, b))) {
    bases.set(rep, claim(`${name}Base`));
  }
  for (const list of aliases.values()) list.sort(compareStrings);
  return { names, aliases, bases, roots };

  function hasBaseMembers(rep: string): boolean {
    const t = lookupType(index, rep);
    return t["meta-type"] === "object" && t.tag !== undefined && t.members.some((m) => m.name !== t.tag);
  }

  function childPositions(
    rep: string,
    name: string,
    emit: (type: string, name: string, path: string) => void,
  ) {
    const t = lookupType(index, rep);
    if (t["meta-type"] === "object") {
      for (const m of t.members) emit(m.type, `${name}${pascalCase(m.name)}`, `${name} member ${m.name}`);
      for (const v of t.variants ?? [])
        emit(v.type, `${name}${pascalCase(v.case)}`, `${name} case ${v.case}`);
    } else if (t["meta-type"] === "alternate") {
      for (const m of t.members) {
        const suffix = branchSuffix(m.type);
        if (suffix !== undefined) emit(m.type, `${name}${suffix}`, `${name} branch ${suffix}`);
      }
    }
  }

  function branchSuffix(typeName: string): string | undefined {
    const meta = lookupType(index, typeName)["meta-type"];
    if (meta === "object") return "Object";
    if (meta === "enum") return "Enum";
    if (meta === "array") return "List";
    return undefined;
  }
}

function compareCandidates(a: Candidate, b: Candidate): number {
  return a.name.length - b.name.length || compareStrings(a.name, b.name) || compareStrings(a.path, b.path);
}

/** A QAPI type name as a TS identifier: kept when it already is one. */
function identifierFor(name: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(name)) return name;
  const pascal = pascalCase(name);
  return /^[A-Za-z_$]/.test(pascal) ? pascal : `_${pascal}`;
}
