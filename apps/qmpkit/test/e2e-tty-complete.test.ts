// Completion and line editing in a real terminal (tmux): what only the screen shows.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { builtBinary, cleanEnv, removeScratch, scratchDir } from "./e2e-helpers.ts";
import { lastLine, PROMPT, SLOW, skip, startShell, Tmux } from "./tmux.ts";

let tmux: Tmux | undefined;

beforeAll(async () => {
  if (!skip) await builtBinary();
}, 120_000);
afterEach(async () => {
  await tmux?.kill();
  tmux = undefined;
});
afterAll(removeScratch);

async function shell(args: string[]): Promise<Tmux> {
  tmux = await startShell(args);
  return tmux;
}

describe("completion in a terminal", () => {
  test.skipIf(skip)(
    "-N: Tab offers qmp_capabilities, and the commands once it has been sent",
    async () => {
      const t = await shell(["-N", "--fake"]);
      await t.type("qmp_");
      await t.keys("Tab");
      await t.waitFor("qmp_capabilities completed", (s) => lastLine(s) === `${PROMPT}qmp_capabilities`);
      await t.keys("Enter");
      await t.waitFor("the reply", (s) => s.includes('"return": {}') && lastLine(s) === PROMPT.trimEnd());
      await t.type("query-statu");
      await t.keys("Tab");
      await t.waitFor("query-status completed", (s) => lastLine(s) === `${PROMPT}query-status`);
      await t.keys("C-u", "C-d");
      expect(await t.exitStatus()).toBe(0);
    },
    SLOW,
  );

  test.skipIf(skip)(
    "-H: Tab completes HMP command words and info subcommands from QEMU's help",
    async () => {
      const t = await shell(["-H", "--fake"]);
      await t.type("system_re");
      await t.keys("Tab");
      await t.waitFor("system_reset completed", (s) => lastLine(s) === `${PROMPT}system_reset`);
      await t.keys("C-u");
      await t.type("info statu");
      await t.keys("Tab");
      await t.waitFor("info status completed", (s) => lastLine(s) === `${PROMPT}info status`);
      await t.keys("Enter");
      await t.waitFor(
        "the status",
        (s) => s.includes("VM status: running") && lastLine(s) === PROMPT.trimEnd(),
      );
      await t.keys("C-d");
      expect(await t.exitStatus()).toBe(0);
    },
    SLOW,
  );

  test.skipIf(skip)(
    "a nested key: 'cache.' then Tab lists the members of the nested object",
    async () => {
      const t = await shell(["--fake"]);
      await t.type("blockdev-add driver=null-co cache.no");
      await t.keys("Tab");
      await t.waitFor(
        "cache.no-flush= completed",
        (s) => lastLine(s) === `${PROMPT}blockdev-add driver=null-co cache.no-flush=`,
      );
      await t.keys("C-u", "C-d");
      expect(await t.exitStatus()).toBe(0);
    },
    SLOW,
  );
});

describe("Ctrl-R reverse history search", () => {
  test.skipIf(skip)(
    "typing narrows to the newest match, Ctrl-R goes older, Enter runs it, Ctrl-G restores, other keys edit",
    async () => {
      const t = await shell(["--fake"]);
      for (const line of ["query-status", "stop", "query-name", "cont"]) {
        await t.type(line);
        await t.keys("Enter");
        await t.waitFor(
          `the reply to ${line}`,
          (s) => lastLine(s) === PROMPT.trimEnd() && s.includes(`${PROMPT}${line}\n`),
        );
      }
      await t.type("half");
      await t.keys("C-r");
      await t.type("que");
      await t.waitFor("the newest match", (s) => lastLine(s) === "(reverse-i-search)'que': query-name");
      await t.keys("C-r");
      await t.waitFor("the next older match", (s) => lastLine(s) === "(reverse-i-search)'que': query-status");
      await t.keys("C-r");
      await t.waitFor(
        "no older match: the last one stays, marked failed",
        (s) => lastLine(s) === "(failed reverse-i-search)'que': query-status",
      );
      // Ctrl-G: back to what was typed before the search.
      await t.keys("C-g");
      await t.waitFor("the line from before the search", (s) => lastLine(s) === `${PROMPT}half`);
      await t.keys("C-u", "C-r");
      await t.type("sto");
      await t.waitFor("stop found", (s) => lastLine(s) === "(reverse-i-search)'sto': stop");
      // End: the search ends on the line found, and the key does its job (the cursor to the end) so text appends.
      await t.keys("End");
      await t.type("x");
      await t.waitFor("the found line, edited", (s) => lastLine(s) === `${PROMPT}stopx`);
      // A clear screen (Ctrl-L), so the run below is the only query-status on it.
      await t.keys("C-u", "C-l");
      await t.waitFor("a clear screen", (s) => s === PROMPT.trimEnd());
      await t.keys("C-r");
      await t.type("status");
      await t.waitFor(
        "query-status found",
        (s) => lastLine(s) === "(reverse-i-search)'status': query-status",
      );
      await t.keys("Enter");
      await t.waitFor(
        "query-status run again",
        (s) =>
          s.startsWith(`${PROMPT}query-status\n`) &&
          s.includes('"status": "running"') &&
          lastLine(s) === PROMPT.trimEnd(),
      );
      await t.keys("C-d");
      expect(await t.exitStatus()).toBe(0);
    },
    SLOW,
  );
});

describe("schema on a terminal", () => {
  test.skipIf(skip)(
    "goes through $PAGER",
    async () => {
      tmux = new Tmux(scratchDir());
      // A pager that marks each line it passes on shows that the text went through it.
      await tmux.start([await builtBinary(), "schema", "--fake", "blockdev-add.qcow2.cache"], {
        HOME: cleanEnv().HOME ?? "",
        NO_COLOR: "1",
        PAGER: "sed 's/^/paged: /'",
      });
      expect(await tmux.exitStatus()).toBe(0);
      const screen = await tmux.screen();
      // The first row can be lost to the pane's own start-up when the program is this quick; the rest shows it.
      expect(screen).toContain("paged:   direct?: boolean;\npaged:   no-flush?: boolean;\npaged: }");
    },
    SLOW,
  );
});
