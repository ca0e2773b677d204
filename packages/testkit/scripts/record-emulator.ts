#!/usr/bin/env bun
/**
 * Records what the real `qemu-system-x86_64` (7.2) prints for the command lines the fake QEMU emulator models, into
 * `fixtures/qemu-7.2-cli.json`: `-version`, `-help`, the machine/CPU/device lists, each machine's property list,
 * and a table of cases (bad options and values, and good command lines that start) with stdout, stderr and exit
 * status. The emulator's tests replay the table against `qmpkit fake-qemu`.
 *
 *   bun packages/testkit/scripts/record-emulator.ts [--binary qemu-system-x86_64]
 *   bun packages/testkit/scripts/record-emulator.ts --binary "$(scripts/qemu-10.0-tree.sh)"   # QEMU 10.0's texts
 *
 * The files are named after the version `-version` reports (`qemu-<major.minor>-cli.json`); the table of cases is
 * kept for 7.2 only, the generation the emulator's checks follow.
 *
 * A case that starts (its monitor socket appears) is stopped with SIGTERM, so its record also holds QEMU's
 * "terminating on signal 15 from pid P (NAME)" line, with P and NAME replaced by `<pid>` and `<name>`.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI_CASE_DIR, CLI_CASES } from "../test/emulator/cli-cases.ts";

const binaryFlag = process.argv.indexOf("--binary");
const binary = binaryFlag > 0 ? (process.argv[binaryFlag + 1] ?? "qemu-system-x86_64") : "qemu-system-x86_64";
const versionText = await new Response(Bun.spawn([binary, "-version"], { stdout: "pipe" }).stdout).text();
const tag = /version (\d+\.\d+)\./.exec(versionText)?.[1];
if (tag === undefined) throw new Error(`${binary} -version printed no version: ${versionText}`);
const fixture = join(import.meta.dir, "..", "fixtures", `qemu-${tag}-cli.json`);
const casesFixture = join(import.meta.dir, "..", "fixtures", "qemu-7.2-cli-cases.json");

interface Outcome {
  stdout: string;
  stderr: string;
  status: number;
  started: boolean;
}

async function run(args: readonly string[], dir: string): Promise<Outcome> {
  const socket = join(dir, "probe.sock");
  const proc = Bun.spawn([binary, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: dir });
  const stdout = new Response(proc.stdout).text();
  const stderr = new Response(proc.stderr).text();
  let started = false;
  const deadline = Date.now() + 10_000;
  while (proc.exitCode === null && proc.signalCode === null && Date.now() < deadline) {
    // The socket exists, and even the greeting comes, before QEMU installs its SIGTERM handler; a command's reply
    // comes from the main loop, after it.
    if (existsSync(socket) && (await answered(socket))) {
      started = true;
      proc.kill("SIGTERM");
      break;
    }
    await Bun.sleep(10);
  }
  if (proc.exitCode === null && !started) proc.kill("SIGKILL");
  const status = await proc.exited;
  return { stdout: await stdout, stderr: normalise(await stderr, proc.pid), status, started };
}

async function answered(path: string): Promise<boolean> {
  const { promise, resolve } = Promise.withResolvers<boolean>();
  const timer = setTimeout(() => resolve(false), 5000);
  let received = "";
  try {
    const socket = await Bun.connect({
      unix: path,
      socket: {
        data(s, chunk) {
          received += chunk.toString();
          if (received.includes('"QMP"') && !received.includes("qmp_capabilities")) {
            received += "qmp_capabilities";
            s.write('{"execute":"qmp_capabilities"}\n');
          }
          if (received.includes('"return"')) resolve(true);
        },
        close: () => resolve(false),
      },
    });
    const ok = await promise;
    socket.end();
    return ok;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** The signal line names the sender (this recorder): keep its shape, not its pid. */
function normalise(text: string, _pid: number): string {
  return text
    .replace(/from pid \d+ \([^)]*\)/g, "from pid <pid> (<name>)")
    .replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z /gm, "<timestamp> ");
}

async function text(args: string[]): Promise<string> {
  const proc = Bun.spawn([binary, ...args], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "qmpkit-record-emulator-"));
try {
  const machineHelp = await text(["-machine", "help"]);
  const machineProps: Record<string, string> = {};
  for (const machine of ["none", `pc-q35-${tag}`, `pc-i440fx-${tag}`]) {
    machineProps[machine] = await text(["-machine", `${machine},help`]);
  }
  const cases: Record<string, Outcome> = {};
  for (const testCase of tag === "7.2" ? CLI_CASES : []) {
    const args = testCase.args.map((arg) => arg.replaceAll(CLI_CASE_DIR, dir));
    const outcome = await run(args, dir);
    outcome.stderr = outcome.stderr.replaceAll(dir, CLI_CASE_DIR);
    outcome.stdout = outcome.stdout.replaceAll(dir, CLI_CASE_DIR);
    cases[testCase.name] = outcome;
    rmSync(join(dir, "probe.sock"), { force: true });
    process.stderr.write(`${testCase.name}: ${outcome.started ? "started" : `exit ${outcome.status}`}\n`);
  }
  const record = {
    recordedWith: (await text(["-version"])).split("\n")[0],
    version: await text(["-version"]),
    help: await text(["-help"]),
    machineHelp,
    machineProps,
    cpuHelp: await text(["-cpu", "help"]),
    deviceHelp: await text(["-device", "help"]),
    accelHelp: await text(["-accel", "help"]),
  };
  writeFileSync(fixture, `${JSON.stringify(record, null, 1)}\n`);
  if (tag === "7.2") writeFileSync(casesFixture, `${JSON.stringify(cases, null, 1)}\n`);
  process.stderr.write(`wrote ${fixture}${tag === "7.2" ? ` and ${casesFixture}` : ""}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
