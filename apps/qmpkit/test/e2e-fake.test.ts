// The compiled binary against the embedded fake (--fake) and against fakes these tests start.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@qmpkit/qmp";
import { createFakeQemu, type FakeQemu, type FakeQemuOptions } from "@qmpkit/testkit";
import { COMMANDS } from "../src/commands/index.ts";
import {
  builtBinary,
  cleanEnv,
  expectPipedShellSession,
  qmpkit,
  ROOT,
  removeScratch,
  run,
  scratchDir,
  start,
} from "./e2e-helpers.ts";

const RUNNING = { status: "running", singlestep: false, running: true };
const fakes: FakeQemu[] = [];

// Compiling the binary may take a while on a loaded machine.
beforeAll(async () => {
  await builtBinary();
}, 120_000);
afterAll(removeScratch);
afterEach(async () => {
  for (const fake of fakes.splice(0)) await fake.close();
});

async function fake(options: FakeQemuOptions = {}): Promise<FakeQemu> {
  const f = await createFakeQemu(options);
  fakes.push(f);
  return f;
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "");

describe("exec", () => {
  test("--fake: the return value as one line of JSON, exit 0", async () => {
    expect(await qmpkit(["exec", "--fake", "query-status"])).toEqual({
      exitCode: 0,
      stdout: `${JSON.stringify(RUNNING)}\n`,
      stderr: "",
    });
  });

  test("an error reply: 'ErrorClass: desc' on stderr, exit 1", async () => {
    expect(await qmpkit(["exec", "--fake", "no-such-command"])).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: "CommandNotFound: The command no-such-command has not been found\n",
    });
  });

  test("arguments reach the server as typed; integers beyond 2^53 exactly", async () => {
    const f = await fake();
    f.handle("x-echo", (args) => args, { validate: false });
    const { exitCode, stdout } = await qmpkit([
      "exec",
      f.address,
      "x-echo",
      "a.b=1",
      "n=18446744073709551615",
    ]);
    expect(exitCode).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ a: { b: 1 } });
    expect((await f.waitFor("x-echo")).raw).toContain('"n":18446744073709551615');
  });

  test("nothing listening: exit 2 and one line naming the address and the cause", async () => {
    const path = join(scratchDir(), "absent.sock");
    expect(await qmpkit(["exec", path, "query-status"])).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: `qmpkit: cannot connect to unix:${path}: Failed to establish connection: ENOENT: Failed to connect (no socket at that path; is QEMU running with -qmp?)\n`,
    });
  });

  test("--debug adds the stack and the cause chain", async () => {
    const path = join(scratchDir(), "absent.sock");
    const { exitCode, stderr } = await qmpkit(["--debug", "exec", path, "query-status"]);
    expect(exitCode).toBe(2);
    const [first, ...more] = lines(stderr);
    expect(first).toStartWith(`qmpkit: cannot connect to unix:${path}`);
    expect(more.join("\n")).toContain("ConnectionFailedError: cannot connect");
    expect(more.join("\n")).toMatch(/\n\s+at /);
    expect(more.join("\n")).toContain("caused by: ConnectError: Failed to establish connection");
  });
});

describe("events", () => {
  test("--count N prints N events as JSON Lines and exits 0", async () => {
    // Emitted to every client right after negotiation, maybe in the same read as the reply: the CLI reads
    // the events buffered since the session started, so none is lost before it iterates.
    const f = await fake({
      faults: [
        {
          name: "events-after-negotiation",
          afterNegotiation(conn) {
            conn.emit("STOP");
            conn.emit("RESUME");
            conn.emit("POWERDOWN");
          },
        },
      ],
    });
    const { exitCode, stdout, stderr } = await qmpkit(["events", f.address, "--count", "2"]);
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    expect(lines(stdout).map((l) => JSON.parse(l).event)).toEqual(["STOP", "RESUME"]);
    const named = await qmpkit(["events", f.address, "--name", "POWERDOWN", "--count", "1"]);
    expect(lines(named.stdout).map((l) => JSON.parse(l))).toEqual([
      { event: "POWERDOWN", data: {}, timestamp: expect.any(Object) },
    ]);
  });

  test("--timeout before --count is reached: exit 1 with a one-line reason", async () => {
    expect(await qmpkit(["events", "--fake", "--count", "1", "--timeout", "0.2"])).toEqual({
      exitCode: 1,
      stdout: "",
      stderr: "qmpkit: timed out after 0.2s with 0 of 1 events\n",
    });
  });
});

describe("schema", () => {
  test("lists every command and event of the recorded QEMU 7.2 schema", async () => {
    const { exitCode, stdout } = await qmpkit(["schema", "--fake"]);
    expect(exitCode).toBe(0);
    expect(stdout).toStartWith("commands (");
    expect(stdout).toContain("\n  query-status\n");
    expect(stdout).toContain("\nevents (");
    expect(stdout).toContain("\n  SHUTDOWN\n");
  });

  test("shows one command's arguments and return type", async () => {
    const { exitCode, stdout } = await qmpkit(["schema", "--fake", "query-status"]);
    expect(exitCode).toBe(0);
    expect(stdout).toStartWith("command query-status\narguments: none\nreturns: {\n  running: boolean;\n");
  });

  test("--emit-ts prints exactly the types @qmpkit/qmp ships for QEMU 7.2", async () => {
    const { exitCode, stdout, stderr } = await qmpkit(["schema", "--fake", "--emit-ts"]);
    expect(stderr).toBe("");
    expect(exitCode).toBe(0);
    expect(stdout).toBe(await Bun.file(join(ROOT, "packages/qmp/src/qapi/qemu-7.2.ts")).text());
  });

  test("an unknown name: exit 2 with suggestions", async () => {
    const { exitCode, stderr } = await qmpkit(["schema", "--fake", "query-stat"]);
    expect(exitCode).toBe(2);
    expect(stderr).toBe(
      "qmpkit: no command, event or type named 'query-stat'; did you mean query-stats, query-status, query-stats-schemas?\n",
    );
  });
});

describe("qom", () => {
  test("ls / lists the root's properties, children marked with /", async () => {
    expect(await qmpkit(["qom", "--fake", "ls", "/"])).toEqual({
      exitCode: 0,
      stdout: "type\nmachine/\nchardevs/\n",
      stderr: "",
    });
  });

  test("against a scripted fake, and a missing path exits 1", async () => {
    const f = await fake();
    f.handle("qom-list", (args) => {
      if (args.path !== "/") throw new Error("unexpected path");
      return [
        { name: "type", type: "string" },
        { name: "machine", type: "child<pc-i440fx-7.2-machine>" },
      ];
    });
    expect((await qmpkit(["qom", f.address, "ls", "/"])).stdout).toBe("type\nmachine/\n");
    expect(await qmpkit(["qom", "--fake", "ls", "/nope"])).toMatchObject({
      exitCode: 1,
      stderr: "DeviceNotFound: Device '/nope' not found\n",
    });
  });
});

describe("progress", () => {
  test("--fake with nothing running says so and exits 0", async () => {
    expect(await qmpkit(["progress", "--fake"])).toEqual({
      exitCode: 0,
      stdout: "no block jobs or migration running\n",
      stderr: "",
    });
  });
});

describe("shell, piped", () => {
  test("one command per line, one JSON line per reply, events as they arrive, exit 1 if any failed", async () => {
    await expectPipedShellSession(["--fake"]);
  });

  test("all succeeded: exit 0; a line that does not parse: exit 2 with its line and column", async () => {
    expect((await qmpkit(["shell", "--fake"], { stdin: "query-name\n" })).exitCode).toBe(0);
    const bad = await qmpkit(["shell", "--fake"], { stdin: "query-status\nx a=[1\n" });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toStartWith(
      "qmpkit: line 2, column 5: unclosed '[' from column 5: expected ']' before the end of the line",
    );
    expect(lines(bad.stderr)).toHaveLength(1);
  });

  test("quit ends the shell although stdin stays open", async () => {
    await using shell = await start(["shell", "--fake"], { stdin: "pipe" });
    const stdin = shell.proc.stdin as { write(s: string): void; flush(): void };
    stdin.write("quit\n");
    stdin.flush();
    const exitCode = await Promise.race([
      shell.proc.exited,
      new Promise((r) => setTimeout(r, 10_000, "running")),
    ]);
    expect(exitCode).toBe(0);
  });
});

describe("fake", () => {
  test("answers @qmpkit/qmp's client and prints what it received as JSON Lines", async () => {
    const path = join(scratchDir(), "qmp.sock");
    await using server = await start(["fake", "--socket", path]);
    expect(JSON.parse(await server.nextLine())).toEqual({ type: "listening", address: `unix:${path}` });
    const client = await connect(path);
    expect(await client.execute("query-status")).toEqual({ ...RUNNING, status: "running" as const });
    await client.execute("quit");
    await client.disconnect();
    const { exitCode, stdout } = await server.finish();
    expect(exitCode).toBe(0);
    const received = lines(stdout).map((l) => JSON.parse(l));
    expect(received.map(({ type, client, message }) => ({ type, client, message }))).toEqual([
      {
        type: "received",
        client: 1,
        message: { execute: "qmp_capabilities", arguments: { enable: ["oob"] } },
      },
      { type: "received", client: 1, message: { execute: "query-status" } },
      { type: "received", client: 1, message: { execute: "quit" } },
    ]);
    expect(received[1].raw).toBe(JSON.stringify(received[1].message));
    expect(readdirSync(join(path, ".."))).toEqual([]);
  });

  test("without --socket: a private temp dir, removed when it exits; qom works as on --fake", async () => {
    await using server = await start(["fake", "--quiet"]);
    const { address } = JSON.parse(await server.nextLine()) as { address: string };
    const path = address.replace(/^unix:/, "");
    expect((await qmpkit(["qom", address, "ls", "/"])).stdout).toBe("type\nmachine/\nchardevs/\n");
    expect(await qmpkit(["exec", address, "quit"])).toMatchObject({ exitCode: 0 });
    expect(await server.finish()).toEqual({ exitCode: 0, stdout: "", stderr: "" });
    expect(() => readdirSync(join(path, ".."))).toThrow();
  });

  test("--machine q35: the compiled binary serves the embedded q35 profile", async () => {
    await using server = await start(["fake", "--machine", "q35", "--quiet"]);
    const { address } = JSON.parse(await server.nextLine()) as { address: string };
    const cpus = await qmpkit([
      "exec",
      address,
      "query-cpu-model-expansion",
      "type=static",
      "model.name=qemu64",
    ]);
    expect(cpus.exitCode).toBe(0);
    expect(JSON.parse(cpus.stdout)).toHaveProperty("model.name", "base");
    const blk = await qmpkit(["exec", address, "device-list-properties", "typename=virtio-blk-pci"]);
    expect((JSON.parse(blk.stdout) as { name: string }[]).map((p) => p.name)).toContain("drive");
    expect(await qmpkit(["exec", address, "quit"])).toMatchObject({ exitCode: 0 });
    expect(await server.finish()).toMatchObject({ exitCode: 0 });
  });

  test("--qemu-version 10.0: the compiled binary answers like QEMU 10.0", async () => {
    await using server = await start(["fake", "--machine", "q35", "--qemu-version", "10.0", "--quiet"]);
    const { address } = JSON.parse(await server.nextLine()) as { address: string };
    const version = await qmpkit(["exec", address, "query-version"]);
    expect(JSON.parse(version.stdout)).toMatchObject({ qemu: { major: 10, minor: 0 } });
    // 10.0's query-status has no singlestep, and 10.0's schema knows query-audiodevs.
    expect(JSON.parse((await qmpkit(["exec", address, "query-status"])).stdout)).toEqual({
      status: "running",
      running: true,
    });
    expect((await qmpkit(["schema", address, "query-audiodevs"])).exitCode).toBe(0);
    expect(await qmpkit(["exec", address, "quit"])).toMatchObject({ exitCode: 0 });
    expect(await server.finish()).toMatchObject({ exitCode: 0 });
  });

  test("--script FILE.json: canned replies, errors and events, over TCP", async () => {
    const script = join(scratchDir(), "script.json");
    await Bun.write(
      script,
      JSON.stringify({
        status: "paused",
        commands: {
          "query-name": { return: { name: "vm1" } },
          device_del: { error: { class: "DeviceNotFound", desc: "Device 'nic0' not found" } },
          system_powerdown: { events: [{ event: "POWERDOWN" }] },
        },
      }),
    );
    await using server = await start(["fake", "--tcp", "127.0.0.1:0", "--script", script, "--quiet"]);
    const { address } = JSON.parse(await server.nextLine()) as { address: string };
    expect(address).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
    const shell = await qmpkit(["shell", address], {
      stdin: "query-status\nquery-name\ndevice_del id=nic0\nsystem_powerdown\nquit\n",
    });
    expect(shell.exitCode).toBe(1);
    const out = lines(shell.stdout).map((l) => JSON.parse(l));
    expect(out.filter((m) => !("event" in m))).toEqual([
      { return: { status: "paused", singlestep: false, running: false } },
      { return: { name: "vm1" } },
      { error: { class: "DeviceNotFound", desc: "Device 'nic0' not found" } },
      { return: {} },
      { return: {} },
    ]);
    expect(out.filter((m) => "event" in m).map((m) => m.event)).toEqual(["POWERDOWN", "SHUTDOWN"]);
    expect(await server.finish()).toEqual({ exitCode: 0, stdout: "", stderr: "" });
  });

  test("--script FILE.ts: the testkit's module script, loaded by the compiled binary", async () => {
    const script = join(scratchDir(), "script.ts");
    await Bun.write(
      script,
      'export default (fake: { handle(c: string, h: () => unknown): void }): void => {\n  fake.handle("query-name", () => ({ name: "from-ts" }));\n};\n',
    );
    await using server = await start([
      "fake",
      "--socket",
      join(scratchDir(), "q.sock"),
      "--script",
      script,
      "-q",
    ]);
    const { address } = JSON.parse(await server.nextLine()) as { address: string };
    expect((await qmpkit(["exec", address, "query-name"])).stdout).toBe('{"name":"from-ts"}\n');
    server.proc.kill("SIGTERM");
    expect(await server.finish()).toEqual({ exitCode: 0, stdout: "", stderr: "" });
  });
});

describe("the binary", () => {
  test("--version, and --help on every level", async () => {
    expect(await qmpkit(["--version"])).toEqual({ exitCode: 0, stdout: "qmpkit 0.1.0\n", stderr: "" });
    const main = await qmpkit(["--help"]);
    expect(main.exitCode).toBe(0);
    for (const command of COMMANDS) {
      expect(main.stdout).toContain(`\n  ${command.name} `);
      const help = await qmpkit([command.name, "--help"]);
      expect({ exitCode: help.exitCode, stderr: help.stderr }).toEqual({ exitCode: 0, stderr: "" });
      expect(help.stdout).toStartWith(`Usage: qmpkit ${command.name} `);
      expect(help.stdout).toContain("\nExamples:\n  qmpkit ");
      expect((await qmpkit(["help", command.name])).stdout).toBe(help.stdout);
    }
    // One process per command: more than bun's 5 s default on a loaded machine.
  }, 30_000);

  test("errors are one line without a stack trace", async () => {
    for (const [args, stderr] of [
      [["exec", "query-status"], /^qmpkit: no QMP address given; pass one as unix:PATH or tcp:HOST:PORT/],
      [["bogus"], /^qmpkit: unknown command 'bogus' \(see 'qmpkit --help'\)$/],
      [["exec", "--fake", "--nope", "x"], /^qmpkit: unknown option '--nope' \(see 'qmpkit exec --help'\)$/],
    ] as const) {
      const result = await qmpkit(args);
      expect(result.exitCode).toBe(2);
      expect(lines(result.stderr)).toHaveLength(1);
      expect(result.stderr.trimEnd()).toMatch(stderr);
    }
  });

  test("no colour off a terminal, even without NO_COLOR", async () => {
    const { stdout, stderr } = await qmpkit(["exec", "--fake", "nope"], { env: cleanEnv() });
    expect(stdout + stderr).not.toContain("\x1b[");
  });

  test("contains no workspace path", async () => {
    const bytes = await Bun.file(await builtBinary()).bytes();
    expect(Buffer.from(bytes).includes(Buffer.from(ROOT))).toBe(false);
  });
});

describe("apps/qmpkit/README.md", () => {
  test("every line of 'Try every command on the embedded fake' runs with exit 0 and nothing on stderr", async () => {
    const readme = await Bun.file(join(import.meta.dir, "..", "README.md")).text();
    const section = readme.slice(readme.indexOf("## Try every command on the embedded fake"));
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    const examples = lines(block);
    expect(examples.length).toBeGreaterThan(10);
    // Every subcommand that can run on the fake has an example here.
    for (const name of COMMANDS.map((c) => c.name).filter((n) => !["fake", "qemu", "ga", "ps"].includes(n))) {
      expect(examples.some((l) => l.includes(`qmpkit ${name} `))).toBe(true);
    }
    const bin = join(await builtBinary(), "..");
    const env = cleanEnv({ PATH: `${bin}:${process.env.PATH ?? ""}` });
    for (const example of examples) {
      const result = await run(["sh", "-c", example], { env });
      expect({ example, exitCode: result.exitCode, stderr: result.stderr }).toEqual({
        example,
        exitCode: 0,
        stderr: "",
      });
    }
  }, 30_000);
});

describe("README quick start", () => {
  test("echo query-status | bun run qmpkit shell --fake prints the status and exits 0", async () => {
    const { exitCode, stdout } = await run(["bun", "run", "qmpkit", "shell", "--fake"], {
      cwd: ROOT,
      stdin: "query-status\n",
      env: cleanEnv({ PATH: `${join(process.execPath, "..")}:${process.env.PATH ?? ""}` }),
    });
    expect(exitCode).toBe(0);
    expect(stdout).toBe(`${JSON.stringify({ return: RUNNING })}\n`);
  });
});
