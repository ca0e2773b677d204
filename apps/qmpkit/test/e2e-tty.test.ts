// The interactive shell through a real pseudo-terminal: the compiled binary in a detached tmux session of a
// fixed size, driven with send-keys and read with capture-pane. The screen is the only thing to observe here,
// so each check polls it until it matches, within a deadline, and fails showing the screen it last saw.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createFakeQemu, type FakeQemu } from "@qmpkit/testkit";
import { builtBinary, cleanEnv, removeScratch, scratchDir } from "./e2e-helpers.ts";
import { lastLine, PROMPT, SLOW, skip, startShell, Tmux } from "./tmux.ts";

let tmux: Tmux | undefined;
let fake: FakeQemu | undefined;

// Compiling the binary may take a while on a loaded machine.
beforeAll(async () => {
  if (!skip) await builtBinary();
}, 120_000);
afterEach(async () => {
  await tmux?.kill();
  tmux = undefined;
  await fake?.close();
  fake = undefined;
});
afterAll(removeScratch);

async function shell(args: string[], env: Record<string, string> = {}): Promise<Tmux> {
  tmux = await startShell(args, env);
  return tmux;
}

describe("the interactive shell in a terminal", () => {
  test.skipIf(skip)(
    "Tab completes a command and an argument name, Enter shows the reply, an event leaves a clean prompt, Ctrl-D quits",
    async () => {
      const t = await shell(["--fake"]);
      await t.type("query-statu");
      await t.keys("Tab");
      await t.waitFor("the completed command name", (s) => lastLine(s) === `${PROMPT}query-status`);
      await t.keys("Enter");
      let screen = await t.waitFor(
        "the reply and a new prompt",
        (s) => s.includes('"status": "running"') && lastLine(s) === PROMPT.trimEnd(),
      );
      expect(screen).toContain(`${PROMPT}query-status\n{\n  "return": {\n    "status": "running",`);

      // stop makes the fake send STOP before its reply: both print, then one clean prompt.
      await t.type("stop");
      await t.keys("Enter");
      screen = await t.waitFor(
        "STOP, the reply and a new prompt",
        (s) =>
          s.includes('"event": "STOP"') && s.includes('"return": {}') && lastLine(s) === PROMPT.trimEnd(),
      );
      const after = screen.slice(screen.indexOf(`${PROMPT}stop`));
      // Nothing printed over the prompt: every line after the command is JSON, except the last (the prompt).
      for (const line of after.split("\n").slice(1, -1)) expect(line).toMatch(/^\s*[{}"]/);

      await t.type("blockdev-add dri");
      await t.keys("Tab");
      await t.waitFor("the completed argument name", (s) => lastLine(s) === `${PROMPT}blockdev-add driver=`);
      await t.keys("C-u", "C-d");
      expect(await t.exitStatus()).toBe(0);
    },
    SLOW,
  );

  test.skipIf(skip)(
    "an event arriving while a command is half typed prints above it, the typed text is redrawn; quit ends the shell",
    async () => {
      fake = await createFakeQemu();
      const t = await shell([fake.address]);
      await t.type("query-na");
      await t.waitFor("the typed text", (s) => lastLine(s) === `${PROMPT}query-na`);
      fake.emit("RESET", { guest: false, reason: "host-qmp-system-reset" });
      const screen = await t.waitFor(
        "the event above the redrawn input",
        (s) => s.includes('"event": "RESET"') && lastLine(s) === `${PROMPT}query-na`,
      );
      // The prompt appears once at the bottom, not also as a leftover above the event.
      expect(screen.split("\n").filter((l) => l.startsWith(PROMPT))).toEqual([`${PROMPT}query-na`]);
      await t.type("me");
      await t.keys("Enter");
      await t.waitFor("the reply", (s) => s.includes('"return": {}') && lastLine(s) === PROMPT.trimEnd());
      // quit: QEMU (here the fake) closes the connection, and the shell ends with it.
      await t.type("quit");
      await t.keys("Enter");
      const end = await t.waitFor("the end of the session", (s) => s.includes("(the connection closed)"));
      expect(end).toContain('"event": "SHUTDOWN"');
      expect(await t.exitStatus()).toBe(0);
    },
    SLOW,
  );

  test.skipIf(skip)(
    "colour on a terminal, none with NO_COLOR",
    async () => {
      const env = cleanEnv();
      for (const [noColor, coloured] of [
        ["", true],
        ["1", false],
      ] as const) {
        tmux = new Tmux(scratchDir());
        await tmux.start([await builtBinary(), "exec", "--fake", "query-status"], {
          HOME: env.HOME ?? "",
          NO_COLOR: noColor,
        });
        expect(await tmux.exitStatus()).toBe(0);
        const screen = await tmux.waitFor("the reply", (s) => s.includes("running"), 10_000, true);
        expect(screen.includes("\x1b[36m")).toBe(coloured);
        await tmux.kill();
      }
    },
    SLOW,
  );
});

describe("progress in a terminal", () => {
  /** A fake whose mirror job advances 1 MiB per poll and never ends; starts `qmpkit progress` on it in tmux. */
  async function progressOnFake(): Promise<Tmux> {
    fake = await createFakeQemu();
    let offset = 0;
    fake.handle("query-jobs", () => []);
    fake.handle("query-migrate", () => ({}));
    fake.handle("query-block-jobs", () => {
      offset = Math.min(offset + 1024 * 1024, 1024 ** 3 - 1);
      const job = { device: "drive0", type: "mirror", len: 1024 ** 3, offset, speed: 0, busy: true };
      return [{ ...job, paused: false, ready: false, status: "running", "io-status": "ok" }];
    });
    tmux = new Tmux(scratchDir());
    await tmux.start([await builtBinary(), "progress", "--interval", "0.1", fake.address], { NO_COLOR: "1" });
    await tmux.waitFor("a frame with a rate", (s) => frames(s).length === 1 && s.includes("/s"));
    return tmux;
  }
  const frames = (s: string) => s.split("\n").filter((l) => l.includes("mirror drive0"));

  test.skipIf(skip)(
    "after the window narrows, each frame fits the new width and replaces the last",
    async () => {
      const t = await progressOnFake();
      await t.resize(50);
      const narrow = await t.waitFor(
        "one frame no wider than 50 columns",
        (s) => frames(s).length === 1 && s.split("\n").every((l) => l.length <= 50),
      );
      expect(narrow.split("\n").filter((l) => l.trim() !== "")).toHaveLength(1);
    },
    SLOW,
  );

  test.skipIf(skip)(
    "Ctrl-C leaves one clean frame from column 0",
    async () => {
      const t = await progressOnFake();
      await t.keys("C-c");
      expect(await t.exitStatus()).toBe(0);
      const screen = await t.screen();
      // The echoed ^C was cleared with the old frame, and the last frame starts at column 0: drawn from where
      // the ^C left the cursor, it would start mid-line ("mimirror drive0") and wrap onto a second line.
      // (tmux may move a redrawn screen into its scrollback when the program exits, so the frame itself is
      // not required to be on screen; nothing else may be.)
      const other = screen
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.startsWith("[qmpkit exited") && !l.startsWith("Pane is dead"));
      expect(other.length, screen).toBeLessThanOrEqual(1);
      for (const line of other) expect(line, screen).toMatch(/^mirror drive0 {2}\[[#-]+\]/);
      expect(screen).not.toContain("^C");
    },
    SLOW,
  );
});

describe("history", () => {
  test.skipIf(skip)(
    "each line is saved as it is entered: two shells keep both, a closed terminal keeps its session, HMP apart",
    async () => {
      const home = scratchDir("qmpkit-home-");
      const started: Tmux[] = [];
      const open = async (args: string[]) => {
        const t = new Tmux(scratchDir());
        started.push(t);
        await t.start([await builtBinary(), "shell", ...args], { NO_COLOR: "1", HOME: home });
        await t.waitFor("the prompt", (s) => lastLine(s) === PROMPT.trimEnd());
        return t;
      };
      try {
        const first = await open(["--fake"]);
        const second = await open(["--fake"]);
        const hmp = await open(["-H", "--fake"]);
        for (const [t, line] of [
          [first, "query-status"],
          [second, "query-name"],
          [hmp, "info status"],
        ] as const) {
          await t.type(line);
          await t.keys("Enter");
          await t.waitFor(
            `the reply to ${line}`,
            (s) =>
              s.split("\n").filter((l) => l === PROMPT.trimEnd()).length > 0 &&
              s.includes(`${PROMPT}${line}\n`) &&
              lastLine(s) === PROMPT.trimEnd(),
          );
        }
        // Closing the terminals (SIGHUP), not Ctrl-D: nothing runs at a clean exit.
        for (const t of started) await t.kill();
        const qmp = await Bun.file(join(home, ".qmpkit_history")).text();
        expect(
          qmp
            .split("\n")
            .filter((l) => l !== "")
            .sort(),
        ).toEqual(["query-name", "query-status"]);
        expect(await Bun.file(join(home, ".qmpkit_history_hmp")).text()).toBe("info status\n");
      } finally {
        for (const t of started) await t.kill();
      }
    },
    SLOW,
  );
});

describe("typing while a command runs", () => {
  test.skipIf(skip)(
    "the reply starts on its own line, the typed keys come back with the prompt, Ctrl-U still clears them",
    async () => {
      fake = await createFakeQemu();
      const release = Promise.withResolvers<void>();
      let started = false;
      fake.handle("query-name", async () => {
        started = true;
        await release.promise;
        return { name: "slow" };
      });
      const t = await shell([fake.address]);
      await t.type("query-name");
      await t.keys("Enter");
      for (let i = 0; !started; i++) {
        if (i > 400) throw new Error("query-name never reached the fake");
        await Bun.sleep(25);
      }
      await t.type("abc");
      await t.waitFor("the keys typed meanwhile", (s) => s.includes("abc"));
      release.resolve();
      const screen = await t.waitFor("the reply and the prompt with the typed keys", (s) =>
        lastLine(s).startsWith(`${PROMPT}abc`),
      );
      // The reply is not glued to the typed text.
      expect(screen).not.toMatch(/abc\{/);
      expect(screen).toContain('\n{\n  "return": {\n    "name": "slow"');
      await t.keys("C-u");
      await t.waitFor("an empty prompt after Ctrl-U", (s) => lastLine(s) === PROMPT.trimEnd());
    },
    SLOW,
  );
});
