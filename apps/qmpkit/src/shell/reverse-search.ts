/**
 * Ctrl-R incremental reverse history search for the shell, which node:readline lacks. Typing narrows the
 * search to the newest history line containing the text; Ctrl-R again goes to the next older one; Enter runs
 * the line found; Ctrl-G or Escape gives back the line as it was before the search; any other key (arrows,
 * Ctrl-A/E, Tab) keeps the line found for editing and then does its usual job.
 *
 * The search is drawn by readline itself (the prompt becomes `(reverse-i-search)'text': `, the line the match),
 * so wrapping and redraws after events stay readline's business.
 */

import type { Interface } from "node:readline";

/** readline's key description, as it passes it to its `_ttyWrite`. */
interface Key {
  readonly name?: string;
  readonly ctrl?: boolean;
  readonly meta?: boolean;
  readonly sequence?: string;
}

/** The members of node:readline's Interface this relies on: public in practice, not in its types. */
interface EditableInterface {
  line: string;
  cursor: number;
  readonly history: string[];
  _ttyWrite(s: string | undefined, key: Key | undefined): void;
}

/**
 * The index in `history` (newest first) of the first line at or after `from` that contains `query`, or -1.
 * @example findInHistory(["stop", "query-status"], "st", 0) // 0
 */
export function findInHistory(history: readonly string[], query: string, from: number): number {
  for (let i = Math.max(0, from); i < history.length; i++) {
    if ((history[i] as string).includes(query)) return i;
  }
  return -1;
}

/** Adds Ctrl-R to an interactive readline `Interface`; a search that finds nothing says `failed`, as bash does. */
export function installReverseSearch(readline: Interface): void {
  const rl = readline as unknown as EditableInterface & Interface;
  const ordinary = rl._ttyWrite.bind(rl);
  let search:
    | { query: string; index: number; before: string; beforeCursor: number; prompt: string }
    | undefined;

  const show = (failed: boolean) => {
    if (!search) return;
    const found = search.index >= 0 ? (rl.history[search.index] as string) : search.before;
    const label = failed ? "failed reverse-i-search" : "reverse-i-search";
    rl.setPrompt(`(${label})'${search.query}': `);
    rl.line = found;
    const at = search.query === "" ? -1 : found.indexOf(search.query);
    rl.cursor = at < 0 ? found.length : at;
    rl.prompt(true);
  };
  const end = (line: string, cursor: number) => {
    if (!search) return;
    rl.setPrompt(search.prompt);
    search = undefined;
    rl.line = line;
    rl.cursor = cursor;
    rl.prompt(true);
  };
  const step = (query: string, from: number) => {
    if (!search) return;
    const index = findInHistory(rl.history, query, from);
    search.query = query;
    if (index >= 0) search.index = index;
    show(index < 0);
  };

  rl._ttyWrite = (s, key) => {
    const ctrl = key?.ctrl === true && key.meta !== true;
    if (!search) {
      if (ctrl && key?.name === "r") {
        search = { query: "", index: -1, before: rl.line, beforeCursor: rl.cursor, prompt: rl.getPrompt() };
        show(false);
        return;
      }
      ordinary(s, key);
      return;
    }
    if (ctrl && key?.name === "r") {
      step(search.query, search.index + 1);
    } else if ((ctrl && key?.name === "g") || key?.name === "escape") {
      end(search.before, search.beforeCursor);
    } else if (key?.name === "backspace") {
      step(search.query.slice(0, -1), 0);
    } else if (isPrintable(s, key)) {
      step(search.query + s, Math.max(0, search.index));
    } else {
      // Anything else ends the search on the line found, then does what it always does (Enter runs it).
      const line = rl.line;
      end(line, rl.cursor);
      ordinary(s, key);
    }
  };
}

function isPrintable(s: string | undefined, key: Key | undefined): s is string {
  if (key?.ctrl === true || key?.meta === true || s === undefined || s.length !== 1) return false;
  return s >= " " && s !== "\x7f";
}
