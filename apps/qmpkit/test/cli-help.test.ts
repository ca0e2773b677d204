import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };

const MAIN = join(import.meta.dir, "../src/main.ts");

/** Runs the CLI from source the way a user would, with no terminal and no colour settings. */
async function qmpkit(...args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const env = { ...process.env };
  delete env.NO_COLOR;
  delete env.QMPKIT_DEBUG;
  await using proc = Bun.spawn([process.execPath, MAIN, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    env,
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, exitCode };
}

describe("qmpkit binary from source", () => {
  test("--help lists every command and the address forms, exit 0", async () => {
    const { stdout, stderr, exitCode } = await qmpkit("--help");
    expect(exitCode).toBe(0);
    expect(stderr).toBe("");
    expect(stdout).toStartWith(`qmpkit ${pkg.version}: a toolkit for QEMU's machine protocol (QMP)\n`);
    for (const name of ["shell", "exec", "events", "schema", "qom", "progress", "fake", "qemu", "ga"]) {
      expect(stdout).toMatch(new RegExp(`\\n  ${name} +\\S`));
    }
    expect(stdout).toContain("unix:PATH");
    expect(stdout).toContain("tcp:HOST:PORT");
    expect(stdout).toContain("--fake");
  });

  test("--version prints the package version, exit 0", async () => {
    expect(await qmpkit("--version")).toEqual({ stdout: `qmpkit ${pkg.version}\n`, stderr: "", exitCode: 0 });
    expect((await qmpkit("-V")).stdout).toBe(`qmpkit ${pkg.version}\n`);
  });

  test("a subcommand's --help lists its flags and an example", async () => {
    const { stdout, stderr, exitCode } = await qmpkit("exec", "--help");
    expect(exitCode).toBe(0);
    expect(stderr).toBe("");
    expect(stdout).toStartWith("Usage: qmpkit exec [options] (ADDRESS | --fake) COMMAND [KEY=VALUE ...]\n");
    expect(stdout).toContain("\n  -p, --pretty ");
    expect(stdout).toContain("\n      --timeout SECONDS ");
    expect(stdout).toContain("\n  -h, --help ");
    expect(stdout).toContain("\nExamples:\n  qmpkit exec unix:/tmp/qmp.sock query-status\n");
  });

  test("no address: one line saying how to pass one, exit 2", async () => {
    expect(await qmpkit("exec", "query-status")).toEqual({
      stdout: "",
      stderr:
        "qmpkit: no QMP address given; pass one as unix:PATH or tcp:HOST:PORT (a plain path works too), or use --fake for an embedded fake QEMU\n",
      exitCode: 2,
    });
  });

  test("a bad flag is a usage error without a stack trace; --debug adds one", async () => {
    const plain = await qmpkit("events", "--count", "x", "--fake");
    expect(plain).toEqual({
      stdout: "",
      stderr: "qmpkit: --count needs a positive whole number, got 'x'\n",
      exitCode: 2,
    });
    const debug = await qmpkit("--debug", "events", "--count", "x", "--fake");
    expect(debug.exitCode).toBe(2);
    expect(debug.stderr).toStartWith(
      "qmpkit: --count needs a positive whole number, got 'x'\nCliUsageError: ",
    );
    expect(debug.stderr).toContain("    at ");
  });

  test("no command prints the help on stderr, exit 2", async () => {
    const { stdout, stderr, exitCode } = await qmpkit();
    expect(exitCode).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain("Usage: qmpkit [--debug] COMMAND");
  });
});
