// Issue 17's smaller bugs that only show in the compiled binary's own process: its stderr, its signals, its
// connection deadline.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { builtBinary, cleanEnv, qmpkit, removeScratch, scratchDir, start } from "./e2e-helpers.ts";
import { within } from "./harness.ts";

const closers: (() => void)[] = [];
// Compiling the binary may take a while on a loaded machine.
beforeAll(async () => {
  await builtBinary();
}, 120_000);
afterAll(removeScratch);
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A unix socket that accepts connections and never says anything, like a monitor another client holds. */
function silentSocket(): string {
  const path = join(scratchDir(), "silent.sock");
  const server = Bun.listen({ unix: path, socket: { data() {} } });
  closers.push(() => server.stop(true));
  return path;
}

describe("the binary", () => {
  // Bun's compiled executables read bunfig.toml (running its `preload` scripts) and .env from the directory they
  // are started in unless built not to: qmpkit run inside someone else's checkout would run their code.
  test("ignores a bunfig.toml and a .env in the directory it runs in", async () => {
    const dir = scratchDir();
    await Bun.write(join(dir, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
    await Bun.write(join(dir, "preload.ts"), 'console.error("preload ran");\n');
    await Bun.write(join(dir, ".env"), "QMPKIT_DEBUG=1\n");
    expect(await qmpkit(["exec", "--fake", "no-such-command"], { cwd: dir })).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: "CommandNotFound: The command no-such-command has not been found\n",
    });
  });

  test("QMPKIT_DEBUG='*' logs each message as one line of JSON", async () => {
    const { exitCode, stderr } = await qmpkit(["exec", "--fake", "query-status"], {
      env: cleanEnv({ QMPKIT_DEBUG: "*" }),
    });
    expect(exitCode).toBe(0);
    expect(stderr).not.toContain("[Object");
    expect(stderr).toContain('<-- {"QMP":{"version":{"qemu":{');
  });

  test("exec --timeout covers connecting, and the message names the command", async () => {
    const path = silentSocket();
    // A connect timeout far beyond the run's 15 s bound: only --timeout can end this in time.
    const { exitCode, stderr } = await qmpkit([
      "exec",
      "--timeout",
      "1",
      "--connect-timeout",
      "60",
      path,
      "query-status",
    ]);
    expect(exitCode).toBe(1);
    expect(stderr).toStartWith("qmpkit: 'query-status' timed out after 1s while connecting to unix:");
  }, 30_000);

  test("a server that accepts and never greets: the message says what that usually means", async () => {
    const { exitCode, stderr } = await qmpkit([
      "exec",
      "--connect-timeout",
      "0.5",
      silentSocket(),
      "query-status",
    ]);
    expect(exitCode).toBe(2);
    expect(stderr).toContain("another client may hold the monitor, which QEMU serves one at a time");
    expect(stderr).toContain("qmpkit ga");
  });

  test("the embedded fake's missing commands say what a CLI user can do", async () => {
    const { exitCode, stderr } = await qmpkit(["exec", "--fake", "x-exit-preconfig"]);
    expect(exitCode).toBe(1);
    expect(stderr).toContain("GenericError: the embedded fake QEMU does not emulate 'x-exit-preconfig'");
    expect(stderr).not.toContain("fake.handle");
  });

  for (const signal of ["SIGTERM", "SIGHUP"] as const) {
    // The embedded fake is reached in process: a signal cannot leave a socket or a temp dir behind.
    test(`shell --fake creates nothing in TMPDIR and ends on ${signal}`, async () => {
      const tmp = scratchDir("qmpkit-tmpdir-");
      await using shell = await start(["shell", "--fake"], { env: cleanEnv({ TMPDIR: tmp }), stdin: "pipe" });
      (shell.proc.stdin as unknown as { write(s: string): void; flush(): void }).write("query-status\n");
      (shell.proc.stdin as unknown as { flush(): void }).flush();
      expect(await shell.nextLine()).toContain('"status":"running"');
      expect(readdirSync(tmp)).toEqual([]);
      shell.proc.kill(signal);
      await within(shell.proc.exited, 10_000, "the shell to exit");
      expect(readdirSync(tmp)).toEqual([]);
    });
  }
});
