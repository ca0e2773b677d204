// The compiled binary against real QEMU: skipped without qemu-system-x86_64, failing under CI=true.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@qmpkit/qmp";
import { type QemuProcess, requireQemu, skipWithoutQemu, spawnQemu } from "@qmpkit/testkit";
import { builtBinary, qmpkit, removeScratch, scratchDir, start } from "./e2e-helpers.ts";
import { within } from "./harness.ts";

const skip = skipWithoutQemu();
const SLOW = 30_000;
const QEMU_ARGS = ["-machine", "none", "-nodefaults", "-display", "none"];
const RUNNING = { status: "running", singlestep: false, running: true };
const started: QemuProcess[] = [];

beforeAll(async () => {
  if (!skip) await builtBinary();
});
afterAll(removeScratch);
afterEach(async () => {
  for (const qemu of started.splice(0)) await qemu[Symbol.asyncDispose]();
});

async function qemu(extraArgs: string[] = []): Promise<QemuProcess> {
  requireQemu();
  const q = await spawnQemu({ extraArgs });
  started.push(q);
  return q;
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "");

describe("against real QEMU", () => {
  test.skipIf(skip)(
    "exec prints the return value (exit 0); an error reply is 'ErrorClass: desc' (exit 1)",
    async () => {
      const q = await qemu();
      expect(await qmpkit(["exec", q.address, "query-status"])).toEqual({
        exitCode: 0,
        stdout: `${JSON.stringify(RUNNING)}\n`,
        stderr: "",
      });
      expect(await qmpkit(["exec", q.path, "no-such-command"])).toEqual({
        exitCode: 1,
        stdout: "",
        stderr: "CommandNotFound: The command no-such-command has not been found\n",
      });
    },
    SLOW,
  );

  test.skipIf(skip)(
    "schema lists commands and events, and shows one command",
    async () => {
      const q = await qemu();
      const list = await qmpkit(["schema", q.address]);
      expect(list.exitCode).toBe(0);
      expect(list.stdout).toContain("\n  query-status\n");
      expect(list.stdout).toContain("\n  SHUTDOWN\n");
      const one = await qmpkit(["schema", q.address, "query-status"]);
      expect(one.stdout).toStartWith(
        "command query-status\narguments: none\nreturns: {\n  running: boolean;\n",
      );
    },
    SLOW,
  );

  test.skipIf(skip)(
    "qom ls / lists what QEMU has at the root",
    async () => {
      const q = await qemu();
      expect(await qmpkit(["qom", q.address, "ls", "/"])).toEqual({
        exitCode: 0,
        stdout: "type\nmachine/\nchardevs/\n",
        stderr: "",
      });
    },
    SLOW,
  );

  test.skipIf(skip)(
    "piped shell: one JSON line per reply, STOP as it arrives, exit 1 when a command failed",
    async () => {
      const q = await qemu();
      const { exitCode, stdout, stderr } = await qmpkit(["shell", q.address], {
        stdin: "query-status\nstop\nquery-status\nno-such-command\n",
      });
      expect({ exitCode, stderr }).toEqual({ exitCode: 1, stderr: "" });
      const out = lines(stdout).map((l) => JSON.parse(l));
      expect(out.filter((m) => !("event" in m))).toEqual([
        { return: RUNNING },
        { return: {} },
        { return: { status: "paused", singlestep: false, running: false } },
        { error: { class: "CommandNotFound", desc: "The command no-such-command has not been found" } },
      ]);
      expect(out.filter((m) => "event" in m).map((m) => m.event)).toEqual(["STOP"]);
    },
    SLOW,
  );

  test.skipIf(skip)(
    "events --count 1 --name STOP prints the STOP caused from a second monitor, then exits 0",
    async () => {
      const second = join(scratchDir(), "second.sock");
      const q = await qemu(["-qmp", `unix:${second},server=on,wait=off`]);
      await using events = await start(["events", q.address, "--name", "STOP", "--count", "1"]);
      await using driver = await connect(second);
      // Real QEMU shows no sign of when another monitor's client has negotiated and listens, so the STOP is
      // caused again until one reaches it, each round bounded, the whole within a deadline.
      const deadline = performance.now() + 15_000;
      let exited: number | undefined;
      while (exited === undefined) {
        if (performance.now() > deadline) throw new Error("qmpkit events never printed a STOP");
        await driver.execute("stop");
        await driver.execute("cont");
        exited = await within(events.proc.exited, 250, "").catch(() => undefined);
      }
      const { exitCode, stdout } = await events.finish();
      expect(exitCode).toBe(0);
      expect(lines(stdout).map((l) => JSON.parse(l).event)).toEqual(["STOP"]);
    },
    SLOW,
  );

  test.skipIf(skip)(
    "qemu -- ARGS: the shell on a spawned QEMU; quit ends it with QEMU's status 0 although stdin stays open",
    async () => {
      requireQemu();
      await using wrap = await start(["qemu", "--no-history", "--", ...QEMU_ARGS], { stdin: "pipe" });
      const stdin = wrap.proc.stdin as { write(s: string): void; flush(): void };
      stdin.write("query-status\nquit\n");
      stdin.flush();
      expect(JSON.parse(await wrap.nextLine(15_000))).toEqual({ return: RUNNING });
      const exitCode = await within(wrap.proc.exited, 15_000, "qmpkit qemu to exit after quit");
      expect(exitCode).toBe(0);
      const { stdout } = await wrap.finish();
      expect(lines(stdout).map((l) => JSON.parse(l))).toEqual([
        { event: "SHUTDOWN", data: { guest: false, reason: "host-qmp-quit" }, timestamp: expect.any(Object) },
        { return: {} },
      ]);
    },
    SLOW,
  );

  test.skipIf(skip)(
    "qemu: the end of piped input sends quit; QEMU killed mid-session makes its status ours",
    async () => {
      requireQemu();
      const piped = await qmpkit(["qemu", "--no-history", "--", ...QEMU_ARGS], { stdin: "query-status\n" });
      expect(piped).toEqual({ exitCode: 0, stdout: `${JSON.stringify({ return: RUNNING })}\n`, stderr: "" });

      await using wrap = await start(["qemu", "--no-history", "--", ...QEMU_ARGS], { stdin: "pipe" });
      const stdin = wrap.proc.stdin as { write(s: string): void; flush(): void };
      stdin.write("query-status\n");
      stdin.flush();
      await wrap.nextLine(15_000);
      const [child] = childrenOf(wrap.proc.pid);
      expect(child).toBeDefined();
      process.kill(child as number, "SIGKILL");
      const { exitCode, stderr } = await wrap.finish(15_000);
      expect(exitCode).toBe(137);
      expect(stderr).toBe("qmpkit: QEMU exited with status 137\n");
    },
    SLOW,
  );

  test.skipIf(skip)(
    "qemu with arguments QEMU refuses: QEMU's status and its message on one line",
    async () => {
      requireQemu();
      const { exitCode, stdout, stderr } = await qmpkit([
        "qemu",
        "--",
        "-machine",
        "none",
        "-no-such-option",
      ]);
      expect({ exitCode, stdout }).toEqual({ exitCode: 1, stdout: "" });
      expect(stderr).toBe(
        "qmpkit: qemu-system-x86_64 exited with code 1 before its QMP socket accepted: qemu-system-x86_64: -no-such-option: invalid option\n",
      );
    },
    SLOW,
  );
});

/** The pids of a process's children (Linux /proc). */
function childrenOf(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
  return text
    .split(" ")
    .filter((p) => p.trim() !== "")
    .map(Number);
}
