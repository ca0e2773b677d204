// A program in a detached tmux session of a fixed size, driven with send-keys and read with capture-pane: the
// screen is the only thing to observe, so each check polls it until it matches, within a deadline.
import { join } from "node:path";
import { builtBinary, run, scratchDir } from "./e2e-helpers.ts";

export const skip = Bun.which("tmux") === null && process.env.CI !== "true";
export const SLOW = 30_000;
export const PROMPT = "(QEMU) ";
const EXIT_MARK = "[qmpkit exited ";

export class Tmux {
  readonly #socket: string;
  readonly #config: string;

  constructor(dir: string) {
    this.#socket = join(dir, "tmux.sock");
    this.#config = join(dir, "tmux.conf");
  }

  async start(command: readonly string[], env: Record<string, string>): Promise<void> {
    if (Bun.which("tmux") === null)
      throw new Error("tmux is not installed (CI=true requires it: apt-get install tmux)");
    // remain-on-exit keeps the screen after the program ends.
    await Bun.write(this.#config, "set -g remain-on-exit on\nset -g history-limit 1000\n");
    const vars = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    // The exit status is printed by a wrapping sh: tmux 3.3a sometimes leaves a quickly exiting pane process
    // unreaped (a zombie), and then never reports #{pane_dead_status}.
    // Ctrl-C in a cooked terminal signals the wrapper too: it must outlive the program to print the status
    // (a trap, unlike an ignored signal, is not inherited by the program).
    const wrapped = ["sh", "-c", `trap : INT; "$@"; echo "${EXIT_MARK}$?]"`, "sh", ...command];
    await this.#tmux(["new-session", "-d", "-s", "qmpkit", "-x", "100", "-y", "40", ...vars, ...wrapped]);
  }

  async keys(...keys: string[]): Promise<void> {
    await this.#tmux(["send-keys", "-t", "qmpkit", ...keys]);
  }

  /** Types text literally (no key names). */
  async type(text: string): Promise<void> {
    await this.#tmux(["send-keys", "-t", "qmpkit", "-l", text]);
  }

  /** The visible screen, lines trimmed on the right; with `escapes`, colour codes kept. */
  async screen(escapes = false): Promise<string> {
    const out = await this.#tmux(["capture-pane", "-p", "-t", "qmpkit", ...(escapes ? ["-e"] : [])]);
    return out
      .split("\n")
      .map((l) => l.trimEnd())
      .join("\n")
      .trimEnd();
  }

  /** Polls the screen until `check` holds, within `ms`; fails with the last screen. */
  async waitFor(
    what: string,
    check: (screen: string) => boolean,
    ms = 10_000,
    escapes = false,
  ): Promise<string> {
    const deadline = performance.now() + ms;
    let last = "";
    while (performance.now() < deadline) {
      last = await this.screen(escapes);
      if (check(last)) return last;
      await Bun.sleep(20);
    }
    throw new Error(`the screen never showed ${what} within ${ms} ms; last screen:\n${last}`);
  }

  /** The program's exit status, once the wrapper printed it, within `ms`. */
  async exitStatus(ms = 10_000): Promise<number> {
    const screen = await this.waitFor("the exit status", (s) => s.includes(EXIT_MARK), ms);
    return Number(/\[qmpkit exited (\d+)\]/.exec(screen)?.[1]);
  }

  async resize(columns: number): Promise<void> {
    await this.#tmux(["resize-window", "-t", "qmpkit", "-x", String(columns)]);
  }

  async kill(): Promise<void> {
    await run(["tmux", "-S", this.#socket, "kill-server"], { timeoutMs: 5000 }).catch(() => {});
  }

  async #tmux(args: string[]): Promise<string> {
    const result = await run(["tmux", "-S", this.#socket, "-f", this.#config, ...args], { timeoutMs: 5000 });
    if (result.exitCode !== 0) throw new Error(`tmux ${args[0]} failed: ${result.stderr}`);
    return result.stdout;
  }
}

export const lastLine = (screen: string) => screen.split("\n").at(-1) ?? "";

/** The shell in tmux, started with `args` and no history file, once its prompt shows. */
export async function startShell(args: string[], env: Record<string, string> = {}): Promise<Tmux> {
  const tmux = new Tmux(scratchDir());
  await tmux.start([await builtBinary(), "shell", "--no-history", ...args], { NO_COLOR: "1", ...env });
  await tmux.waitFor("the prompt", (s) => lastLine(s) === PROMPT.trimEnd());
  return tmux;
}
