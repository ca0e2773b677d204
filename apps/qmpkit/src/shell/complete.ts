/**
 * Tab completion for the shell, pure: (source, line, state) -> readline's `[candidates, word]`.
 *
 * - first word: command names (plus `transaction(`), or inside a transaction the action names;
 * - later words without `=`: the argument names of that command or action, as `name=`, leaving
 *   out the ones already typed; after `key.` the members of the nested object (`cache.` ->
 *   `cache.direct=`, `cache.no-flush=`), union variants chosen by tags typed so far (`file.driver=`);
 * - after `name=` (dotted too): the members of the argument's enum type (`driver=`, `sync=`), or true/false;
 * - other values, quoted text and raw JSON lines: nothing.
 */

import {
  argumentMembers,
  argumentTag,
  enumValues,
  type SchemaIndex,
  type SchemaMember,
  sortedNames,
} from "../schema.ts";
import type { ShellState } from "./parse.ts";
import { tokenize, type WordToken } from "./tokenize.ts";

/** What completion knows about the server. */
export interface CompletionSource {
  /** Command names, sorted. */
  readonly commands: readonly string[];
  /**
   * Argument names of a command, or of the object at a dotted `path` under it (`["cache"]`); `given` holds the
   * key=value pairs typed so far, by their full dotted keys.
   */
  argumentsOf(
    command: string,
    given: ReadonlyMap<string, string>,
    path?: readonly string[],
  ): readonly string[];
  /** The values an argument (`key` may be dotted) may take when its type lists them (enum, boolean); [] otherwise. */
  valuesOf?(command: string, key: string, given: ReadonlyMap<string, string>): readonly string[];
  /** Transaction action names, sorted. */
  readonly actions: readonly string[];
  /** The `data` member names of one transaction action. */
  actionArgumentsOf(action: string): readonly string[];
}

/** Readline's completer result: candidates, and the text they replace (the word under the cursor). */
export type CompletionResult = [candidates: string[], word: string];

const OPEN = "transaction(";

/** Completion from `query-qmp-schema`: commands, arguments (with union variants), actions. */
export function completionSourceFromSchema(index: SchemaIndex): CompletionSource {
  const commands = sortedNames(index.commands);
  const actionUnion = findActionUnion(index);
  return {
    commands,
    argumentsOf(command, given, path = []) {
      return membersAt(index, command, path, given).map((m) => m.name);
    },
    valuesOf(command, key, given) {
      const path = key.split(".");
      const leaf = path.pop() as string;
      const member = membersAt(index, command, path, given).find((m) => m.name === leaf);
      const type = member ? index.entries.get(member.type) : undefined;
      if (type?.["meta-type"] === "enum") return enumValues(type);
      if (type?.["meta-type"] === "builtin" && type["json-type"] === "boolean") return ["false", "true"];
      return [];
    },
    actions: actionUnion ? (actionUnion.variants ?? []).map((v) => v.case).sort() : [],
    actionArgumentsOf(action) {
      const variant = actionUnion?.variants?.find((v) => v.case === action);
      const wrapper = variant ? index.entries.get(variant.type) : undefined;
      if (wrapper?.["meta-type"] !== "object") return [];
      const data = wrapper.members.find((m) => m.name === "data");
      const dataType = data ? index.entries.get(data.type) : undefined;
      return dataType?.["meta-type"] === "object" ? dataType.members.map((m) => m.name) : [];
    },
  };
}

/** Completion from a plain command list (`query-commands`), when no schema is available. */
export function completionSourceFromCommands(names: readonly string[]): CompletionSource {
  return {
    commands: [...names].sort(),
    argumentsOf: () => [],
    actions: [],
    actionArgumentsOf: () => [],
  };
}

/**
 * Completes the word that ends at the end of `line` (readline passes the text up to the cursor).
 * @example complete(source, "query-st") // [["query-status"], "query-st"]
 */
export function complete(source: CompletionSource, line: string, state?: ShellState): CompletionResult {
  if (line.trimStart().startsWith("{")) return [[], ""];
  const tokenized = tokenize(line, true);
  if (!tokenized.ok) return [[], ""];
  const tokens = tokenized.tokens;
  const last = tokens.at(-1);
  const current = last?.kind === "word" && last.end === line.length ? last : undefined;
  if (current?.open) return [[], ""];
  const word = current ? line.slice(current.column - 1) : "";
  const typedValue = current && current.eq >= 0 ? current : undefined;
  if (/["'\\]/.test(word)) return [[], word];

  // The words of the current command or action, up to (not including) the current word.
  const before = current ? tokens.slice(0, -1) : tokens;
  let inTransaction = state?.transaction != null;
  let segment: WordToken[] = [];
  for (const token of before) {
    if (token.kind === "comma") {
      segment = [];
    } else if (token.text === OPEN && segment.length === 0 && !inTransaction) {
      inTransaction = true;
    } else if (token.text === ")" && inTransaction) {
      return [[], word]; // transaction properties: nothing to offer
    } else {
      segment.push(token);
    }
  }

  let candidates: readonly string[];
  const name = segment[0];
  if (!name) {
    candidates = inTransaction
      ? [...source.actions, ")"]
      : source.commands.includes("transaction")
        ? [...source.commands, OPEN]
        : source.commands;
  } else {
    const given = new Map<string, string>();
    for (const w of segment.slice(1)) {
      if (w.eq > 0) given.set(w.text.slice(0, w.eq), w.text.slice(w.eq + 1));
    }
    if (typedValue) {
      // `driver=nu`, `file.driver=`: the argument's enum members, as whole `key=value` words. Commands only.
      const key = typedValue.text.slice(0, typedValue.eq);
      if (inTransaction || /["'\\]/.test(word) || !source.valuesOf) return [[], word];
      const values = source.valuesOf(name.text, key, given);
      return [values.map((v) => `${key}=${v}`).filter((c) => c.startsWith(word)), word];
    }
    // `cache.` or `file.fi`: the members of the nested object, spelled with their full dotted prefix.
    const dot = word.lastIndexOf(".");
    const path = dot < 0 ? [] : word.slice(0, dot).split(".");
    if (inTransaction && path.length > 0) return [[], word];
    const prefix = dot < 0 ? "" : word.slice(0, dot + 1);
    const typed = new Set<string>();
    for (const key of given.keys()) {
      if (key.startsWith(prefix)) typed.add(key.slice(prefix.length).split(".")[0] as string);
    }
    const names = inTransaction
      ? source.actionArgumentsOf(name.text)
      : source.argumentsOf(name.text, given, path);
    candidates = names.filter((n) => !typed.has(n)).map((n) => `${prefix}${n}=`);
  }
  return [candidates.filter((c) => c.startsWith(word)), word];
}

function findActionUnion(index: SchemaIndex) {
  const transaction = index.entries.get("transaction");
  if (transaction?.["meta-type"] !== "command") return undefined;
  const args = index.entries.get(transaction["arg-type"]);
  if (args?.["meta-type"] !== "object") return undefined;
  const actions = args.members.find((m) => m.name === "actions");
  const list = actions ? index.entries.get(actions.type) : undefined;
  if (list?.["meta-type"] !== "array") return undefined;
  const element = index.entries.get(list["element-type"]);
  return element?.["meta-type"] === "object" && element.tag ? element : undefined;
}

/**
 * The members of the object a dotted path leads to under a command's arguments: `[]` is the arguments
 * themselves, `["cache"]` the members of `cache`'s type. An alternate is taken at its object branch (a
 * `BlockdevRef` as `BlockdevOptions`); a union adds the variant that the tag typed at that level chooses.
 */
function membersAt(
  index: SchemaIndex,
  command: string,
  path: readonly string[],
  given: ReadonlyMap<string, string>,
): readonly SchemaMember[] {
  const tag = argumentTag(index, command);
  let members = argumentMembers(index, command, tag === undefined ? undefined : given.get(tag));
  for (const [depth, key] of path.entries()) {
    const member = members.find((m) => m.name === key);
    let type = member ? index.entries.get(member.type) : undefined;
    if (type?.["meta-type"] === "alternate") {
      const objectBranch = type.members
        .map((m) => index.entries.get(m.type))
        .find((t) => t?.["meta-type"] === "object");
      type = objectBranch;
    }
    if (type?.["meta-type"] !== "object") return [];
    const at = path.slice(0, depth + 1).join(".");
    const chosen = type.tag === undefined ? undefined : given.get(`${at}.${type.tag}`);
    const variant = type.variants?.find((v) => v.case === chosen);
    const extra = variant ? index.entries.get(variant.type) : undefined;
    members = extra?.["meta-type"] === "object" ? [...type.members, ...extra.members] : type.members;
  }
  return members;
}
