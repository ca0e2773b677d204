import { describe, expect, test } from "bun:test";
import { type DefinedCommand, renderCommandHelp } from "../src/cli.ts";
import { COMMANDS } from "../src/commands/index.ts";
import { COMMAND_TABLE } from "../src/commands/table.ts";
import { CliUsageError } from "../src/errors.ts";
import { main } from "../src/main.ts";
import { captureIO, FakeExecuteError, stubSession } from "./harness.ts";
import { SCHEMA_FIXTURE } from "./schema-fixture.ts";

const STATUS = { running: true, singlestep: false, status: "running" };

async function run(argv: string[], setup: Parameters<typeof captureIO>[0] = {}) {
  const captured = captureIO(setup);
  const exitCode = await main(argv, captured.io);
  return {
    exitCode,
    stdout: captured.stdout(),
    stderr: captured.stderr(),
    targets: captured.targets,
    options: captured.options,
  };
}

describe("help", () => {
  test.each(COMMANDS.map((c) => [c.name, c] as const))(
    "%s --help lists every flag and examples",
    async (name, spec) => {
      const { exitCode, stdout } = await run([name, "--help"]);
      expect(exitCode).toBe(0);
      expect(stdout).toBe(renderCommandHelp(spec));
      for (const flag of Object.keys(spec.flags)) expect(stdout).toContain(`--${flag}`);
      expect(stdout).toMatch(/\nExamples:\n {2}qmpkit /);
    },
  );

  test("the table main() dispatches through names every spec, in order, with its summary and loader", async () => {
    expect(COMMAND_TABLE.map((c) => [c.name, c.summary])).toEqual(COMMANDS.map((c) => [c.name, c.summary]));
    for (const [i, entry] of COMMAND_TABLE.entries())
      expect(await entry.load()).toBe(COMMANDS[i] as DefinedCommand);
  });

  test("qmpkit --help lists every command with its summary, in the table's order", async () => {
    const { exitCode, stdout } = await run(["--help"]);
    expect(exitCode).toBe(0);
    const listed = stdout.slice(stdout.indexOf("Commands:\n") + 10, stdout.indexOf("\n\nAddresses:"));
    expect(listed.split("\n").map((line) => line.trim().split(/\s+/, 1)[0])).toEqual(
      COMMANDS.map((c) => c.name),
    );
    for (const c of COMMANDS)
      expect(listed).toMatch(new RegExp(`\n? {2}${c.name} +${RegExp.escape(c.summary)}`));
  });

  test.each([
    ["exe", "qmpkit: unknown command 'exe'; did you mean exec? (see 'qmpkit --help')\n"],
    ["q", "qmpkit: unknown command 'q'; did you mean qom or qemu? (see 'qmpkit --help')\n"],
    ["fak", "qmpkit: unknown command 'fak'; did you mean fake or fake-qemu? (see 'qmpkit --help')\n"],
    ["zzz", "qmpkit: unknown command 'zzz' (see 'qmpkit --help')\n"],
  ])("an unknown command %s is a usage error with suggestions", async (name, message) => {
    expect(await run([name, "query-status"])).toMatchObject({ exitCode: 2, stdout: "", stderr: message });
    expect(await run(["help", name])).toMatchObject({ exitCode: 2, stdout: "", stderr: message });
  });

  test("qmpkit help NAME is NAME --help", async () => {
    expect((await run(["help", "qom"])).stdout).toBe((await run(["qom", "--help"])).stdout);
  });
});

describe("small things from issue 17", () => {
  test.each([
    [["exec", "fd:3", "query-status"], "qmpkit: 'fd:3': qmpkit cannot connect through 'fd:'"],
    [
      ["exec", "--timeout", "-1", "--fake", "query-status"],
      "qmpkit: --timeout needs a positive number of seconds, got '-1'",
    ],
    [
      ["exec", "S", "--fake", "query-status"],
      "qmpkit: 'S' looks like an address, and --fake takes the place of one",
    ],
    [
      ["exec", "--fake", "x a=1"],
      "qmpkit: 'x a=1' is not a command name; give the command and each KEY=VALUE as separate words",
    ],
    [
      ["qemu", "--", "-machine", "none", "-daemonize"],
      "qmpkit: '-daemonize' would leave a QEMU qmpkit cannot follow",
    ],
  ])("%j is refused, saying why", async (argv, start) => {
    const result = await run(argv, { session: stubSession({ "query-status": STATUS }) });
    expect(result.exitCode).toBe(2);
    expect(result.stderr.startsWith(start)).toBe(true);
  });

  test.each([
    ["/etc/passwd", "(/etc/passwd is a regular file, not a socket)"],
    ["/tmp", "(/tmp is a directory, not a socket)"],
  ])("a path that is not a socket (%s) is named as such", async (path, why) => {
    const result = await run(["exec", path, "query-status"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(why);
    expect(result.stderr).not.toContain("nothing is listening");
  });
});

describe("friction from issue 17", () => {
  test("events --name that the schema does not list is refused with the likely name", async () => {
    const schema = [
      { name: "STOP", "meta-type": "event", "arg-type": "0" },
      { name: "SHUTDOWN", "meta-type": "event", "arg-type": "0" },
    ];
    for (const name of ["stop", "STOPP"]) {
      const session = stubSession({ "query-qmp-schema": schema });
      const result = await run(["events", "--fake", "--name", name], { session });
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toBe(
        `qmpkit: the server has no event named '${name}'; did you mean STOP? ('qmpkit schema --events' lists them)\n`,
      );
      expect(session.closed).toBe(1);
    }
  });

  test("qom tree lists children in natural order: device[4] before device[20]", async () => {
    const children = ["device[20]", "device[4]", "device[100]"].map((name) => ({ name, type: "child<x>" }));
    const session = stubSession({
      "qom-list": (args: Record<string, unknown> | undefined) => (args?.path === "/m" ? children : []),
    });
    const result = await run(["qom", "--fake", "tree", "/m"], { session });
    expect(result.stdout).toBe("/m\n  device[4]\n  device[20]\n  device[100]\n");
  });

  test("schema NAME.BRANCH; not on a terminal the text is written as it is, whatever PAGER says", async () => {
    const result = await run(["schema", "--file", SCHEMA_FIXTURE, "blockdev-add.qcow2.cache"], {
      env: { PAGER: "false" },
    });
    expect(result).toMatchObject({
      exitCode: 0,
      stdout: "blockdev-add.qcow2.cache: {\n  direct?: boolean;\n  no-flush?: boolean;\n}\n",
    });
  });

  test("qom tree --values: each object's properties, sorted naturally, with type and value, before its children", async () => {
    const lists: Record<string, { name: string; type: string }[]> = {
      "/m": [
        { name: "prop[10]", type: "uint32" },
        { name: "dev", type: "child<x>" },
        { name: "prop[9]", type: "string" },
        { name: "secret", type: "string" },
      ],
      "/m/dev": [{ name: "type", type: "string" }],
    };
    const values: Record<string, unknown> = {
      "prop[10]": 18446744073709551615n,
      "prop[9]": "nine",
      type: "x",
    };
    const session = stubSession({
      "qom-list": (a: Record<string, unknown> | undefined) => lists[a?.path as string] ?? [],
      "qom-get": (a: Record<string, unknown> | undefined) => {
        const value = values[a?.property as string];
        if (value === undefined)
          throw new FakeExecuteError("GenericError", "Property 'secret' is not readable");
        return value;
      },
    });
    const result = await run(["qom", "--fake", "tree", "--values", "/m"], { session });
    expect(result.stdout).toBe(
      [
        "/m",
        '  .prop[9] (string) = "nine"',
        "  .prop[10] (uint32) = 18446744073709551615",
        "  .secret (string) = <GenericError: Property 'secret' is not readable>",
        "  dev",
        '    .type (string) = "x"',
        "",
      ].join("\n"),
    );
    expect(result.exitCode).toBe(0);
  });

  test("a forgotten '--' is pointed out; a QEMU binary that cannot start says why", async () => {
    expect((await run(["exec", "--fake", "-H", "info", "block", "-v"])).stderr).toBe(
      "qmpkit: unknown option '-v' (see 'qmpkit exec --help'; words meant for QEMU or the command go after '--')\n",
    );
    const missing = await run(["qemu", "--binary", "/nonexistent/qemu", "--", "-machine", "none"]);
    expect(missing).toMatchObject({
      exitCode: 2,
      stderr: "qmpkit: Cannot start /nonexistent/qemu: no such file (or not on PATH)\n",
    });
  });
});

describe("missing pieces from issue 17", () => {
  test("qom get/set take the PATH.PROP form", async () => {
    const session = stubSession({ "qom-get": (a: unknown) => a, "qom-set": {} });
    expect((await run(["qom", "--fake", "get", "/machine.type"], { session })).stdout).toBe(
      '{"path":"/machine","property":"type"}\n',
    );
    await run(["qom", "--fake", "set", "/machine/peripheral/nic0.link-up", "false"], { session });
    expect(session.calls.at(-1)).toEqual({
      command: "qom-set",
      args: { path: "/machine/peripheral/nic0", property: "link-up", value: false },
    });
  });

  test("events --regex, --data and --timestamp", async () => {
    const at = { seconds: 1_700_000_000, microseconds: 250_000 };
    const events = [
      { event: "BLOCK_JOB_READY", data: { device: "drive0", len: 5 }, timestamp: at },
      { event: "BLOCK_JOB_READY", data: { device: "drive1", len: 5 }, timestamp: at },
      { event: "STOP", timestamp: at },
    ];
    const session = stubSession({}, events);
    const result = await run(
      [
        "events",
        "--fake",
        "-t",
        "--regex",
        "^BLOCK_",
        "--data",
        "device=drive0",
        "--data",
        "len=5",
        "--count",
        "1",
      ],
      { session },
    );
    expect(result.exitCode).toBe(0);
    const [when, json] = result.stdout.trim().split(" ");
    expect(new Date(when as string).getTime()).toBe(1_700_000_000_250);
    expect(JSON.parse(json as string).data.device).toBe("drive0");
    expect((await run(["events", "--fake", "--regex", "("], { session })).stderr).toStartWith(
      "qmpkit: --regex '(' is not a regular expression",
    );
  });
});

describe("exec", () => {
  test("prints the return value as compact JSON off a terminal, pretty with -p", async () => {
    const session = stubSession({ "query-status": STATUS });
    expect(await run(["exec", "unix:/tmp/q.sock", "query-status"], { session })).toMatchObject({
      exitCode: 0,
      stdout: `${JSON.stringify(STATUS)}\n`,
      stderr: "",
    });
    expect((await run(["exec", "-p", "--fake", "query-status"], { session })).stdout).toBe(
      `${JSON.stringify(STATUS, null, 2)}\n`,
    );
    expect(session.closed).toBe(2);
  });

  test("leaves the connection to the process exit only when the process exits after it (the binary)", async () => {
    const session = stubSession({ "query-status": STATUS });
    const exiting = captureIO({ session });
    const io = { ...exiting.io, exitsAfterRun: true };
    expect(await main(["exec", "--fake", "query-status"], io)).toBe(0);
    expect(exiting.stdout()).toBe(`${JSON.stringify(STATUS)}\n`);
    expect(session.closed).toBe(0);
    // A failed command too: the error is printed, and the exit closes the connection.
    expect(await main(["exec", "--fake", "nope"], io)).toBe(1);
    expect(session.closed).toBe(0);
    expect((await run(["exec", "--fake", "query-status"], { session })).exitCode).toBe(0);
    expect(session.closed).toBe(1);
  });

  test("pretty and coloured on a terminal unless NO_COLOR", async () => {
    const session = stubSession({ "query-status": STATUS });
    const tty = await run(["exec", "--fake", "query-status"], { session, tty: true });
    expect(tty.stdout).toContain('\x1b[36m"running"\x1b[0m: \x1b[35mtrue\x1b[0m');
    const noColor = await run(["exec", "--fake", "query-status"], {
      session,
      tty: true,
      env: { NO_COLOR: "1" },
    });
    expect(noColor.stdout).toBe(`${JSON.stringify(STATUS, null, 2)}\n`);
  });

  test("passes the target, arguments and connection flags", async () => {
    const session = stubSession({ "blockdev-add": {} });
    const result = await run(
      [
        "exec",
        "--tls-ca",
        "ca.pem",
        "--connect-timeout",
        "2.5",
        "tcp:[::1]:4444",
        "blockdev-add",
        "driver=null-co",
        "o.size=1",
      ],
      { session },
    );
    expect(result.exitCode).toBe(0);
    expect(result.targets).toEqual([{ kind: "address", address: { kind: "tcp", host: "::1", port: 4444 } }]);
    expect(result.options).toEqual([{ tls: { caFile: "ca.pem" }, connectTimeoutMs: 2500 }]);
    expect(session.calls).toEqual([{ command: "blockdev-add", args: { driver: "null-co", o: { size: 1 } } }]);
  });

  test("a server error prints 'ErrorClass: desc' on stderr and exits 1", async () => {
    const session = stubSession({
      device_del: () => {
        throw new FakeExecuteError("DeviceNotFound", "Device 'nic9' not found");
      },
    });
    expect(await run(["exec", "--fake", "device_del", "id=nic9"], { session })).toMatchObject({
      exitCode: 1,
      stdout: "",
      stderr: "DeviceNotFound: Device 'nic9' not found\n",
    });
    expect(session.closed).toBe(1);
  });

  test("a connection failure exits 2 with the cause", async () => {
    const connectError = Object.assign(new Error("cannot connect to unix:/nope: no such file (ENOENT)"), {
      code: "ENOENT",
    });
    expect(await run(["exec", "/nope", "query-status"], { connectError })).toMatchObject({
      exitCode: 2,
      stderr: "qmpkit: cannot connect to unix:/nope: no such file (ENOENT)\n",
    });
  });

  test("HMP prints the text; JSON messages are sent raw", async () => {
    const session = stubSession({ "human-monitor-command": (a: unknown) => `ran ${JSON.stringify(a)}\n` });
    expect((await run(["exec", "--fake", "-H", "--", "info", "block", "-v"], { session })).stdout).toBe(
      'ran {"command-line":"info block -v"}\n',
    );
    const raw = await run(["exec", "--fake", '{"execute": "stop", "id": 7}'], { session });
    expect(raw.stdout).toBe('{"return":{"echoed":{"execute":"stop","id":7}},"id":7}\n');
    const failed = await run(["exec", "--fake", '{"execute": "fail", "id": 8}'], { session });
    expect(failed).toMatchObject({
      exitCode: 1,
      stdout: '{"error":{"class":"GenericError","desc":"failed"}}\n',
    });
  });

  test("--dry-run prints the message and connects to nothing", async () => {
    const result = await run(["exec", "--fake", "-n", "x", "size=18446744073709551615", "s='1'"]);
    expect(result).toMatchObject({
      exitCode: 0,
      stdout: `{"execute":"x","arguments":{"size":18446744073709551615,"s":"1"}}\n`,
    });
  });

  test.each([
    [["exec", "--fake"], "qmpkit: missing COMMAND (see 'qmpkit exec --help')\n"],
    [["exec", "--fake", "x", "a=1", "b"], "qmpkit: argument 2: expected key=value, got 'b'\n"],
    [
      ["exec", "--fake", "{bad"],
      "qmpkit: invalid JSON message at column 2: expected a string key, found 'b'\n",
    ],
    [
      ["exec", "vsock:1:2", "x"],
      "qmpkit: 'vsock:1:2': qmpkit cannot connect through 'vsock:'; use unix:PATH, tcp:HOST:PORT, HOST:PORT or a socket path (a socket file of that name is ./vsock:1:2)\n",
    ],
    [
      ["exec", "--fake", "--timeout", "0", "x"],
      "qmpkit: --timeout needs a positive number of seconds, got '0'\n",
    ],
    [
      ["exec", "--fake", "--pretty=1", "x"],
      "qmpkit: option '--pretty' takes no value (see 'qmpkit exec --help')\n",
    ],
    [
      ["exec", "--fake", "--timeout"],
      "qmpkit: option '--timeout' needs a value (see 'qmpkit exec --help')\n",
    ],
    // The parser's corners: groups of short flags, `=` in odd places, a flag where a value should be.
    [
      ["exec", "-pz", "--fake", "x"],
      "qmpkit: unknown option '-z' (in '-pz') (see 'qmpkit exec --help'; words meant for QEMU or the command go after '--')\n",
    ],
    [
      ["exec", "--fake", "-p=1", "x"],
      "qmpkit: unknown option '-=' (in '-p=1') (see 'qmpkit exec --help'; words meant for QEMU or the command go after '--')\n",
    ],
    [
      ["exec", "--fake", "-Hp-", "x"],
      "qmpkit: unknown option '-' (see 'qmpkit exec --help'; words meant for QEMU or the command go after '--')\n",
    ],
    [["exec", "--fake", "--nope=1", "x"], "qmpkit: unknown option '--nope' (see 'qmpkit exec --help')\n"],
    [["exec", "--fake", "--=x", "x"], "qmpkit: unknown option '--=x' (see 'qmpkit exec --help')\n"],
    [
      ["exec", "--fake", "--timeout", "--pretty", "x"],
      "qmpkit: option '--timeout' needs a value (see 'qmpkit exec --help')\n",
    ],
    [
      ["exec", "--fake", "--fake=", "x"],
      "qmpkit: option '--fake' takes no value (see 'qmpkit exec --help')\n",
    ],
  ])("usage error %j", async (argv, stderr) => {
    expect(await run(argv, { session: stubSession({}) })).toMatchObject({ exitCode: 2, stdout: "", stderr });
  });
});

describe("shell, piped", () => {
  test("one reply per line as QEMU shaped it; a failed command makes the exit status 1", async () => {
    const session = stubSession({
      "query-status": STATUS,
      stop: {},
      transaction: (a: unknown) => ({ got: a }),
    });
    const stdin = ["query-status", "", "# comment", "nosuch", "transaction( abort, abort )", "stop"].join(
      "\n",
    );
    const result = await run(["shell", "--fake"], { session, stdin });
    expect(result.stdout.split("\n")).toEqual([
      JSON.stringify({ return: STATUS }),
      '{"error":{"class":"CommandNotFound","desc":"The command nosuch has not been found"}}',
      '{"return":{"got":{"actions":[{"type":"abort","data":{}},{"type":"abort","data":{}}]}}}',
      '{"return":{}}',
      "",
    ]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("");
  });

  test("parse errors go to stderr with their line and make the status 2; -v echoes messages", async () => {
    const session = stubSession({ stop: {} });
    const result = await run(["shell", "-v", "--fake"], {
      session,
      stdin: "stop a=1 a=2\nstop\ntransaction(\nabort\n",
    });
    expect(result.stderr).toBe(
      "qmpkit: line 1, column 10: duplicate key 'a'\nqmpkit: input ended inside 'transaction(' with 1 action(s); nothing was sent\n",
    );
    expect(result.stdout).toBe('{"execute":"stop","arguments":{}}\n{"return":{}}\n');
    expect(result.exitCode).toBe(2);
  });

  test("events are printed as JSON lines", async () => {
    const event = { event: "STOP", timestamp: { seconds: 1, microseconds: 2 } };
    const session = stubSession({ stop: {} }, [event]);
    const result = await run(["shell", "--fake"], { session, stdin: "stop\n" });
    expect(result.stdout.split("\n").sort()).toEqual(["", JSON.stringify(event), '{"return":{}}'].sort());
  });

  test("HMP mode sends lines untouched and prints the text", async () => {
    const session = stubSession({ "human-monitor-command": (a: unknown) => `${JSON.stringify(a)}\n` });
    const result = await run(["shell", "-H", "--fake"], { session, stdin: "info  status\n" });
    expect(result.stdout).toBe('{"command-line":"info  status"}\n');
  });

  test("HMP 'cpu N' is checked, then sent as cpu-index with every later command", async () => {
    const session = stubSession({
      "human-monitor-command": (a: { "cpu-index"?: number }) => {
        if ((a["cpu-index"] ?? 0) > 1)
          throw new FakeExecuteError("GenericError", "Parameter 'cpu-index' expects a CPU number");
        return `${JSON.stringify(a)}\n`;
      },
    });
    const result = await run(["shell", "-H", "--fake"], {
      session,
      stdin: "info registers\ncpu 1\ninfo registers\ncpu 7\ncpu x\ninfo registers\n",
    });
    expect(result.stdout).toBe(
      [
        '{"command-line":"info registers"}',
        '{"command-line":"info registers","cpu-index":1}',
        '{"command-line":"info registers","cpu-index":1}',
        "",
      ].join("\n"),
    );
    expect(result.stderr).toBe(
      "qmpkit: cpu 7: Parameter 'cpu-index' expects a CPU number\nqmpkit: cpu takes one CPU index, as in 'cpu 1'\n",
    );
    // The check itself: a harmless command with the new index, as qmp-shell does it.
    expect(session.calls.map((c) => c.args)).toContainEqual({
      "command-line": "info version",
      "cpu-index": 1,
    });
    expect(result.exitCode).toBe(2);
  });

  test("--dry-run prints what would be sent", async () => {
    const result = await run(["shell", "-n", "--fake"], { stdin: "stop\nx a.b=1\n" });
    expect(result).toMatchObject({
      exitCode: 0,
      stdout: '{"execute":"stop","arguments":{}}\n{"execute":"x","arguments":{"a":{"b":1}}}\n',
    });
  });

  test("-l logs messages and replies", async () => {
    const log = `${require("node:os").tmpdir()}/qmpkit-log-${crypto.randomUUID()}.jsonl`;
    try {
      await run(["shell", "--fake", "-l", log], { session: stubSession({ stop: {} }), stdin: "stop\n" });
      expect(await Bun.file(log).text()).toBe(
        '{"sent":{"execute":"stop","arguments":{}}}\n{"received":{"return":{}}}\n',
      );
    } finally {
      await Bun.file(log).delete();
    }
  });
});

describe("events", () => {
  const events = [
    { event: "STOP", timestamp: { seconds: 1, microseconds: 0 } },
    { event: "RESUME", timestamp: { seconds: 2, microseconds: 0 } },
    { event: "STOP", timestamp: { seconds: 3, microseconds: 0 } },
  ];

  test("--count stops after N, JSON Lines", async () => {
    const session = stubSession({}, events);
    const result = await run(["events", "--fake", "--count", "2"], { session });
    expect(result.stdout).toBe(`${JSON.stringify(events[0])}\n${JSON.stringify(events[1])}\n`);
    expect(result.exitCode).toBe(0);
    expect(session.closed).toBe(1);
  });

  test("--name filters", async () => {
    const session = stubSession({}, events);
    const result = await run(["events", "--fake", "--name", "STOP", "--name", "X", "--count", "2"], {
      session,
    });
    expect(session.eventFilters).toEqual([["STOP", "X"]]);
    expect(result.stdout.trim().split("\n")).toHaveLength(2);
  });

  test("--timeout before --count is a failure; --timeout alone is not", async () => {
    const short = await run(["events", "--fake", "--count", "5", "--timeout", "0.05"], {
      session: stubSession({}, events),
    });
    expect(short).toMatchObject({
      exitCode: 1,
      stderr: "qmpkit: timed out after 0.05s with 3 of 5 events\n",
    });
    const plain = await run(["events", "--fake", "--timeout", "0.05"], { session: stubSession({}, events) });
    expect(plain.exitCode).toBe(0);
  });
});

describe("schema", () => {
  test("--file lists and shows entries without connecting", async () => {
    const list = await run(["schema", "--file", SCHEMA_FIXTURE, "--events", "--grep", "shutdown"]);
    expect(list).toMatchObject({ exitCode: 0, stdout: "events (1):\n  SHUTDOWN\n" });
    const one = await run(["schema", "--file", SCHEMA_FIXTURE, "qom-list"]);
    expect(one.stdout).toStartWith("command qom-list\narguments: {\n  path: string;\n}\nreturns: {\n");
  });

  test("from a session, with a suggestion for an unknown name", async () => {
    const schema = await Bun.file(SCHEMA_FIXTURE).json();
    const session = stubSession({ "query-qmp-schema": schema });
    const result = await run(["schema", "--fake", "query-stauts"], { session });
    expect(result).toMatchObject({
      exitCode: 2,
      stderr:
        "qmpkit: no command, event or type named 'query-stauts'; did you mean query-stats, query-status, query-fdsets?\n",
    });
  });

  test("a missing or broken file", async () => {
    expect((await run(["schema", "--file", "/nonexistent.json"])).stderr).toBe(
      "qmpkit: schema file '/nonexistent.json' does not exist\n",
    );
  });
});

describe("qom", () => {
  const session = () =>
    stubSession({
      "qom-list": (a: unknown) =>
        (a as { path: string }).path === "/"
          ? [
              { name: "type", type: "string" },
              { name: "machine", type: "child<container>" },
            ]
          : [{ name: "type", type: "string" }],
      "qom-get": "none-machine",
      "qom-set": {},
    });

  test("ls marks children; -l adds types", async () => {
    expect((await run(["qom", "--fake", "ls", "/"], { session: session() })).stdout).toBe("type\nmachine/\n");
    expect((await run(["qom", "--fake", "ls", "-l", "/"], { session: session() })).stdout).toBe(
      "type      string\nmachine/  child<container>\n",
    );
  });

  test("get prints JSON; set parses the value like the shell", async () => {
    expect((await run(["qom", "--fake", "get", "/machine", "type"], { session: session() })).stdout).toBe(
      '"none-machine"\n',
    );
    const s = session();
    expect(
      (await run(["qom", "--fake", "set", "/m/nic0", "link-up", "false"], { session: s })).exitCode,
    ).toBe(0);
    expect(s.calls).toEqual([
      { command: "qom-set", args: { path: "/m/nic0", property: "link-up", value: false } },
    ]);
  });

  test("tree walks children", async () => {
    expect((await run(["qom", "--fake", "tree"], { session: session() })).stdout).toBe("/\n  machine\n");
  });

  test.each([
    [["qom", "--fake"], "qmpkit: missing action: ls, get, set or tree (see 'qmpkit qom --help')\n"],
    [["qom", "--fake", "rm", "/"], "qmpkit: unknown qom action 'rm'; expected ls, get, set or tree\n"],
    [["qom", "--fake", "get", "/"], "qmpkit: usage: qmpkit qom ADDRESS get PATH PROP\n"],
    [["qom", "--fake", "tree", "/", "x"], "qmpkit: usage: qmpkit qom ADDRESS tree [PATH]\n"],
    [
      ["qom", "ls"],
      "qmpkit: no QMP address given; pass one as unix:PATH or tcp:HOST:PORT (a plain path works too), or use --fake for an embedded fake QEMU\n",
    ],
  ])("%j", async (argv, stderr) => {
    expect(await run(argv, { session: session() })).toMatchObject({ exitCode: 2, stderr });
  });
});

describe("progress", () => {
  test("nothing running", async () => {
    const session = stubSession({ "query-jobs": [], "query-block-jobs": [], "query-migrate": {} });
    expect(await run(["progress", "--fake"], { session })).toMatchObject({
      exitCode: 0,
      stdout: "no block jobs or migration running\n",
    });
  });

  test("a migration that finished before is history: not shown, even with --once", async () => {
    const done = { status: "completed", ram: { transferred: 9, remaining: 0, total: 9 } };
    for (const argv of [
      ["progress", "--fake"],
      ["progress", "--fake", "--once"],
    ]) {
      const session = stubSession({ "query-jobs": [], "query-block-jobs": [], "query-migrate": done });
      expect(await run(argv, { session })).toMatchObject({
        exitCode: 0,
        stdout: "no block jobs or migration running\n",
      });
    }
  });

  test("an extra argument is refused", async () => {
    expect(await run(["progress", "--fake", "extra"], { session: stubSession({}) })).toMatchObject({
      exitCode: 2,
      stderr: "qmpkit: unexpected argument 'extra' (progress shows every job)\n",
    });
  });

  test("a backup that is cancelled and dismissed shows its end and exits 1", async () => {
    let polls = 0;
    const job = {
      id: "b0",
      type: "backup",
      status: "running",
      "current-progress": 10,
      "total-progress": 100,
    };
    const session = stubSession({ "query-jobs": () => (++polls === 1 ? [job] : []), "query-migrate": {} }, [
      {
        event: "BLOCK_JOB_CANCELLED",
        data: { device: "b0", type: "backup", len: 100, offset: 40, speed: 0 },
      },
    ]);
    const result = await run(["progress", "--fake", "--interval", "0.01"], { session });
    expect(result.exitCode).toBe(1);
    expect(result.stdout.trim().split("\n")).toEqual([
      "job=b0 type=backup status=running done=10 total=100 percent=10.0",
      "job=b0 type=backup status=cancelled done=40 total=100 percent=40.0",
    ]);
  });

  test("--wait polls until something starts", async () => {
    let polls = 0;
    const session = stubSession({
      "query-block-jobs": () =>
        ++polls < 3 ? [] : [{ device: "d0", type: "stream", len: 10, offset: 10, status: "concluded" }],
    });
    const result = await run(["progress", "--fake", "--wait", "--interval", "0.01"], { session });
    expect(result).toMatchObject({
      exitCode: 0,
      stdout: "job=d0 type=stream status=concluded done=10 total=10 percent=100.0\n",
    });
  });

  test("polls until done, logfmt off a terminal; missing commands are skipped", async () => {
    let offset = 0;
    const session = stubSession({
      "query-block-jobs": () => {
        offset += 50;
        return [
          { device: "d0", type: "mirror", len: 100, offset, status: offset >= 100 ? "concluded" : "running" },
        ];
      },
    });
    const result = await run(["progress", "--fake", "--interval", "0.01"], { session });
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toBe("job=d0 type=mirror status=running done=50 total=100 percent=50.0");
    expect(lines[1]).toBe("job=d0 type=mirror status=concluded done=100 total=100 percent=100.0");
  });
});

describe("fake, qemu, ga", () => {
  test.each([
    [
      ["fake", "--socket", "/tmp/x", "--tcp", "h:1"],
      "qmpkit: --socket and --tcp exclude each other; pick one\n",
    ],
    [["fake", "--tcp", "h"], "qmpkit: 'h' needs a port, as in h:4444\n"],
    [["fake", "--script", "/nonexistent"], "qmpkit: script file '/nonexistent' does not exist\n"],
    [
      ["qemu", "-machine"],
      "qmpkit: unknown option '-m' (in '-machine') (see 'qmpkit qemu --help'; words meant for QEMU or the command go after '--')\n",
    ],
    [["qemu", "none"], "qmpkit: QEMU's arguments go after '--', as in: qmpkit qemu -- none\n"],
    [
      ["ga", "guest-ping"],
      "qmpkit: no guest agent address given; pass one as unix:PATH or tcp:HOST:PORT (a plain path works too)\n",
    ],
  ])("%j", async (argv, stderr) => {
    expect(await run(argv)).toMatchObject({ exitCode: 2, stderr });
  });

  test("ga --dry-run", async () => {
    expect((await run(["ga", "-n", "/run/qga.sock", "guest-exec", "path=/bin/true"])).stdout).toBe(
      '{"execute":"guest-exec","arguments":{"path":"/bin/true"}}\n',
    );
  });
});

test("CliUsageError is exit status 2", () => {
  expect(new CliUsageError("x").exitCode).toBe(2);
});
