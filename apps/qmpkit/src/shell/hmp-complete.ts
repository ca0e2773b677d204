/**
 * Tab completion under `-H` (HMP): command words and `info` subcommands, read from the text QEMU prints
 * for `help` and `help info`, so the list is whatever this QEMU has (qmp-shell's HMP mode completes nothing).
 */

import type { CompletionResult } from "./complete.ts";

/** What HMP completion knows: the command words (aliases included) and the `info` subcommands, sorted. */
export interface HmpCompletionSource {
  readonly commands: readonly string[];
  readonly infoCommands: readonly string[];
}

// A command line of `help` starts with its words (`cont|c  -- resume emulation`); continuation lines start with
// blanks or, for drive_add, with `[`.
const COMMAND_WORDS = /^([a-z_][\w-]*(?:\|[\w?-]+)*)(?:\s|$)/;

/**
 * Reads `help` and `help info` output (`\r\n` or `\n` line ends).
 * @example hmpCompletionSource("cont|c  -- resume emulation\r\n", "info status  -- show …\r\n")
 */
export function hmpCompletionSource(help: string, infoHelp: string): HmpCompletionSource {
  const commands = new Set<string>();
  for (const line of help.split(/\r?\n/)) {
    const words = COMMAND_WORDS.exec(line)?.[1];
    for (const word of words?.split("|") ?? []) commands.add(word);
  }
  const infoCommands = new Set<string>();
  for (const line of infoHelp.split(/\r?\n/)) {
    const sub = /^info ([\w-]+)/.exec(line)?.[1];
    if (sub !== undefined) infoCommands.add(sub);
  }
  return { commands: [...commands].sort(), infoCommands: [...infoCommands].sort() };
}

/**
 * Completes the first word of an HMP line, or the word after `info` (and `help`, which takes a command).
 * @example completeHmp(source, "info blo") // [["block", "block-jobs", "blockstats"], "blo"]
 */
export function completeHmp(source: HmpCompletionSource, line: string): CompletionResult {
  const words = line.trimStart().split(/\s+/);
  const word = words.at(-1) ?? "";
  let candidates: readonly string[] = [];
  if (words.length === 1) candidates = source.commands;
  else if (words.length === 2 && words[0] === "info") candidates = source.infoCommands;
  else if (words.length === 2 && (words[0] === "help" || words[0] === "?")) candidates = source.commands;
  return [candidates.filter((c) => c.startsWith(word)), word];
}
