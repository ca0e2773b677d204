/**
 * Checking command arguments against the live QAPI schema before they are sent.
 *
 * QEMU stops at the first problem and names it tersely ("Parameter 'bogus' is unexpected"); this reports every
 * problem, with its path, the valid members or enum values, and a guess at what was meant. It follows the
 * rules of QEMU's input visitor: absent `arguments` equals `{}`, optional members may be left out but are not
 * nullable, alternates pick their branch by the JSON type of the value, and a flat union's members depend on
 * the value of its tag.
 */

import {
  enumValues,
  isOptional,
  lookupType,
  type ObjectEntry,
  type ObjectMember,
  OPEN_ARGUMENT_COMMANDS,
  QAPISchemaError,
  type SchemaIndex,
  type TypeEntry,
} from "./schema.ts";

/**
 * What went wrong:
 * - `unknown-command`: the schema has no such command.
 * - `unknown-member`: an object has a member its type does not define.
 * - `missing-member`: a required member is absent.
 * - `wrong-type`: a value has the wrong JSON type (for alternates: matches no branch).
 * - `invalid-value`: a string that is not one of its enum's values.
 */
export type ValidationProblemKind =
  | "unknown-command"
  | "unknown-member"
  | "missing-member"
  | "wrong-type"
  | "invalid-value";

/** One problem found by {@link validateArguments}. */
export interface ValidationProblem {
  readonly kind: ValidationProblemKind;
  /**
   * Where the problem is, inside the arguments: `""` for the arguments object itself, else a path such as
   * `cache.direct` or `options[0].node-name`. For unknown and missing members, the member's own path.
   */
  readonly path: string;
  /** What the value should have been, e.g. `an integer` or `a string or an object`. */
  readonly expected?: string;
  /** The valid member names (`unknown-member`) or enum values (`invalid-value`), in schema order. */
  readonly valid?: readonly string[];
  /** The closest valid names (all at the same, small edit distance), when the input looks like a typo of one. */
  readonly suggestions?: readonly string[];
  /** A complete one-line description, naming the bad member and listing the valid ones. */
  readonly message: string;
}

/**
 * Check the arguments of a command against a schema. Pure; returns every problem found, or `[]`.
 *
 * @example
 * const problems = validateArguments(indexSchema(schema), "blockdev-add", { driver: "file", filname: "x" });
 * if (problems.length > 0) throw new Error(formatValidationProblems("blockdev-add", problems));
 * // Invalid arguments for "blockdev-add": unknown member "filname" for driver "file" (did you mean
 * // "filename"?); valid members: driver, node-name, ..., filename, ...
 */
export function validateArguments(schema: SchemaIndex, command: string, args: unknown): ValidationProblem[] {
  const entry = schema.commands.get(command);
  if (entry === undefined) {
    const suggestions = closest(command, [...schema.commands.keys()]);
    const hint = suggestions.length === 0 ? "" : `; ${didYouMean(suggestions)}`;
    const message = `the schema has no command "${command}"${hint}`;
    return [{ kind: "unknown-command", path: "", message, ...withSuggestions(suggestions) }];
  }
  const problems = validateValue(schema, entry["arg-type"], args === undefined ? {} : args);
  if (!OPEN_ARGUMENT_COMMANDS.has(command)) return problems;
  // Members beyond the schema's are QEMU's to check (device properties): only the listed ones are ours.
  return problems.filter((p) => !(p.kind === "unknown-member" && !p.path.includes(".")));
}

/** Check any value against a schema type; `path` prefixes the reported paths. */
export function validateValue(
  schema: SchemaIndex,
  typeName: string,
  value: unknown,
  path = "",
): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  check(schema, lookupType(schema, typeName), value, path, problems);
  return problems;
}

/**
 * One message for all the problems of a call, fit for an error's `message`.
 *
 * @example
 * formatValidationProblems("query-status", problems);
 * // Invalid arguments for "query-status": unknown member "verbose" in the arguments; no members are allowed here
 */
export function formatValidationProblems(command: string, problems: readonly ValidationProblem[]): string {
  const head = `Invalid arguments for "${command}"`;
  if (problems.length === 0) return `${head}: no problems found`;
  if (problems.length === 1) return `${head}: ${problems[0]?.message}`;
  return `${head}: ${problems.length} problems\n${problems.map((p) => `  - ${p.message}`).join("\n")}`;
}

function check(
  schema: SchemaIndex,
  type: TypeEntry,
  value: unknown,
  path: string,
  out: ValidationProblem[],
): void {
  switch (type["meta-type"]) {
    case "builtin": {
      const jsonType = type["json-type"];
      if (!matchesJsonType(jsonType, value)) out.push(wrongType(path, jsonTypeNames[jsonType], value));
      return;
    }
    case "enum": {
      if (typeof value !== "string") {
        out.push(wrongType(path, "a string", value));
        return;
      }
      const valid = enumValues(type);
      if (valid.includes(value)) return;
      const suggestions = closest(value, valid);
      const hint = suggestions.length === 0 ? "" : ` (${didYouMean(suggestions)})`;
      const message = `${where(path)} must be one of ${valid.map((v) => `"${v}"`).join(", ")}; got "${value}"${hint}`;
      out.push({
        kind: "invalid-value",
        path,
        valid,
        message,
        ...withSuggestions(suggestions),
      });
      return;
    }
    case "array":
      if (!Array.isArray(value)) {
        out.push(wrongType(path, "an array", value));
        return;
      }
      value.forEach((element: unknown, i) => {
        check(schema, lookupType(schema, type["element-type"]), element, `${path}[${i}]`, out);
      });
      return;
    case "alternate": {
      const branches = type.members.map((m) => lookupType(schema, m.type));
      const branch = branches.find((b) => acceptsKindOf(b, value));
      if (branch === undefined) {
        out.push(wrongType(path, [...new Set(branches.map(expectedOf))].join(" or "), value));
        return;
      }
      check(schema, branch, value, path, out);
      return;
    }
    case "object":
      if (!isPlainObject(value)) {
        out.push(wrongType(path, "an object", value));
        return;
      }
      checkObject(schema, type, value, path, out);
      return;
  }
}

function checkObject(
  schema: SchemaIndex,
  type: ObjectEntry,
  value: Record<string, unknown>,
  path: string,
  out: ValidationProblem[],
): void {
  const { members, complete, variantNote } = membersFor(schema, type, value);
  const known = new Set<string>();
  for (const m of members) {
    known.add(m.name);
    const memberPath = join(path, m.name);
    // JSON.stringify drops undefined members, so an undefined value is an absent member.
    const v = value[m.name];
    if (v !== undefined) check(schema, lookupType(schema, m.type), v, memberPath, out);
    else if (!isOptional(m)) {
      const message = `missing required member "${m.name}" in ${where(path)}${variantNote}`;
      out.push({ kind: "missing-member", path: memberPath, message });
    }
  }
  // Without a valid tag the variant's members are unknown, so extra keys cannot be judged yet.
  if (!complete) return;
  const valid = members.map((m) => m.name);
  for (const key of Object.keys(value)) {
    if (known.has(key) || value[key] === undefined) continue;
    const suggestions = closest(key, valid);
    const hint = suggestions.length === 0 ? "" : ` (${didYouMean(suggestions)})`;
    const list = valid.length === 0 ? "no members are allowed here" : `valid members: ${valid.join(", ")}`;
    const message = `unknown member "${key}" in ${where(path)}${variantNote}${hint}; ${list}`;
    out.push({
      kind: "unknown-member",
      path: join(path, key),
      valid,
      message,
      ...withSuggestions(suggestions),
    });
  }
}

/** The members an object value may have: the base members, plus the variant's chosen by each tag. */
function membersFor(
  schema: SchemaIndex,
  type: ObjectEntry,
  value: Record<string, unknown>,
): { members: ObjectMember[]; complete: boolean; variantNote: string } {
  const members = [...type.members];
  if (type.tag === undefined) return { members, complete: true, variantNote: "" };
  const tagValue = value[type.tag];
  const variant = (type.variants ?? []).find((v) => v.case === tagValue);
  if (variant === undefined) {
    // A tag value without a variant is a value whose branch adds nothing (older QEMUs leave such cases out).
    const tagMember = type.members.find((m) => m.name === type.tag);
    const tagType = tagMember === undefined ? undefined : lookupType(schema, tagMember.type);
    const plain = tagType?.["meta-type"] === "enum" && enumValues(tagType).includes(String(tagValue));
    const note = plain ? ` for ${type.tag} "${tagValue}"` : "";
    return { members, complete: plain && typeof tagValue === "string", variantNote: note };
  }
  const variantType = lookupType(schema, variant.type);
  if (variantType["meta-type"] !== "object") {
    throw new QAPISchemaError(`variant "${variant.case}" of "${type.name}" is a ${variantType["meta-type"]}`);
  }
  const inner = membersFor(schema, variantType, value);
  return {
    members: [...members, ...inner.members],
    complete: inner.complete,
    variantNote: ` for ${type.tag} "${variant.case}"${inner.variantNote}`,
  };
}

const jsonTypeNames = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean",
  null: "null",
  object: "an object",
  value: "any JSON value",
} as const;

function matchesJsonType(jsonType: keyof typeof jsonTypeNames, value: unknown): boolean {
  switch (jsonType) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "int":
      return Number.isInteger(value);
    case "boolean":
      return typeof value === "boolean";
    case "null":
      return value === null;
    case "object":
      return isPlainObject(value);
    case "value":
      return true;
  }
}

/** Whether an alternate branch is the one QEMU picks for this value, i.e. has the value's JSON type. */
function acceptsKindOf(branch: TypeEntry, value: unknown): boolean {
  switch (branch["meta-type"]) {
    case "builtin":
      return matchesJsonType(branch["json-type"], value);
    case "enum":
      return typeof value === "string";
    case "array":
      return Array.isArray(value);
    case "object":
      return isPlainObject(value);
    case "alternate":
      return false;
  }
}

function expectedOf(branch: TypeEntry): string {
  switch (branch["meta-type"]) {
    case "builtin":
      return jsonTypeNames[branch["json-type"]];
    case "enum":
      return "a string";
    case "array":
      return "an array";
    default:
      return "an object";
  }
}

function wrongType(path: string, expected: string, value: unknown): ValidationProblem {
  return {
    kind: "wrong-type",
    path,
    expected,
    message: `${where(path)} must be ${expected}, got ${preview(value)}`,
  };
}

function where(path: string): string {
  return path === "" ? "the arguments" : `"${path}"`;
}

function join(path: string, member: string): string {
  return path === "" ? member : `${path}.${member}`;
}

function preview(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function" || typeof value === "symbol") return `a ${typeof value}`;
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The valid names closest to a misspelt one, if within a third of its length in edits (at least 1); all of
 * them on a tie, in code-point order. A swap of two neighbours counts as one edit (`stauts` -> `status`).
 */
function closest(name: string, valid: readonly string[]): string[] {
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string[] = [];
  let bestDistance = limit;
  for (const candidate of valid) {
    const d = editDistance(name, candidate, bestDistance + 1);
    if (d < bestDistance) {
      best = [candidate];
      bestDistance = d;
    } else if (d === bestDistance) best.push(candidate);
  }
  return best.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function didYouMean(names: readonly string[]): string {
  return `did you mean ${names.map((n) => `"${n}"`).join(" or ")}?`;
}

function withSuggestions(suggestions: readonly string[]): { suggestions?: readonly string[] } {
  return suggestions.length === 0 ? {} : { suggestions };
}

/** Optimal-string-alignment distance (Levenshtein plus adjacent swaps), or `cap` once it cannot be less. */
function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? cap) + 1, (row[j - 1] ?? cap) + 1, (prev[j - 1] ?? cap) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, (before[j - 2] ?? cap) + 1);
      row.push(d);
      rowMin = Math.min(rowMin, d);
    }
    if (rowMin >= cap) return cap;
    before = prev;
    prev = row;
  }
  return Math.min(prev[b.length] ?? cap, cap);
}
