#!/usr/bin/env bun
/**
 * Records what a real `qemu-system-x86_64` prints for the command lines the fake QEMU emulator models, into
 * `fixtures/qemu-<V>-cli.json`: `-version`, `-help`, the machine/CPU/device lists, each machine's property list,
 * and the option table (every option the binary knows, and whether it takes an argument); and into
 * `fixtures/qemu-<V>-cli-cases.json` the outcome of each case of `test/emulator/cli-cases.ts` (bad options and
 * values, and good command lines that start) with stdout, stderr and exit status. The emulator's tests replay
 * the cases against `qmpkit fake-qemu` run as that generation.
 *
 *   bun packages/testkit/scripts/record-emulator.ts                      # the host's QEMU 7.2
 *   bun packages/testkit/scripts/record-emulator.ts --qemu-version 10.0  # the Debian 13 tree's QEMU 10.0
 *   bun packages/testkit/scripts/record-emulator.ts --binary PATH        # any QEMU; files named after its -version
 *
 * A case that starts (its monitor socket appears) is stopped with SIGTERM, so its record also holds QEMU's
 * "terminating on signal 15 from pid P (NAME)" line, with P and NAME replaced by `<pid>` and `<name>`. The cases'
 * sockets live in a temp dir under /tmp, the one directory the Debian 13 tree shares with the host.
 *
 * The option table is probed, not read from QEMU's sources: each candidate name is run as
 * `-NAME -qmpkit-probe-a -qmpkit-probe-b`, which QEMU's first pass over the command line rejects before anything
 * starts, naming `-NAME` when it does not know it, `-qmpkit-probe-a` when `-NAME` takes no argument, and
 * `-qmpkit-probe-b` when `-NAME` swallowed `-qmpkit-probe-a` as its argument. The candidates are the options its
 * `-help` lists and every option an earlier recording (of any generation) knows; an undocumented option new in
 * this binary is not found.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { qemu10Binary } from "../src/qemu-10.ts";
import { CLI_CASE_DIR, CLI_CASES } from "../test/emulator/cli-cases.ts";
import { type CaseOutcome, runCase } from "../test/emulator/run-case.ts";

const { values } = parseArgs({
  options: {
    binary: { type: "string" },
    "qemu-version": { type: "string" },
  },
});
const wanted = values["qemu-version"];
if (wanted !== undefined && wanted !== "7.2" && wanted !== "10.0")
  throw new Error(`--qemu-version is 7.2 or 10.0, not ${wanted}`);
const binary = values.binary ?? (wanted === "10.0" ? qemu10Binary() : "qemu-system-x86_64");
const versionText = await new Response(Bun.spawn([binary, "-version"], { stdout: "pipe" }).stdout).text();
const tag = /version (\d+\.\d+)\./.exec(versionText)?.[1];
if (tag === undefined) throw new Error(`${binary} -version printed no version: ${versionText}`);
if (wanted !== undefined && tag !== wanted) throw new Error(`${binary} is QEMU ${tag}, not ${wanted}`);
const FIXTURES = join(import.meta.dir, "..", "fixtures");
const fixture = join(FIXTURES, `qemu-${tag}-cli.json`);
const casesFixture = join(FIXTURES, `qemu-${tag}-cli-cases.json`);

async function text(args: string[]): Promise<string> {
  const proc = Bun.spawn([binary, ...args], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return out;
}

/** Every option name a recording of any generation knows: candidates for this binary's table. */
function recordedOptionNames(): string[] {
  const names: string[] = [];
  for (const file of readdirSync(FIXTURES).filter((name) => /^qemu-[\d.]+-cli\.json$/.test(name))) {
    const options = (JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as { options?: object }).options;
    names.push(...Object.keys(options ?? {}));
  }
  return names;
}

/** Whether QEMU knows `-NAME` and whether it takes an argument (see the file comment); `undefined`: unknown. */
async function probeOption(name: string, dir: string): Promise<boolean | undefined> {
  const proc = Bun.spawn([binary, `-${name}`, "-qmpkit-probe-a", "-qmpkit-probe-b"], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    cwd: dir,
  });
  const stderr = await new Response(proc.stderr).text();
  await proc.exited;
  if (stderr.includes(`-${name}: invalid option`)) return undefined;
  if (stderr.includes("-qmpkit-probe-a: invalid option")) return false;
  if (stderr.includes("-qmpkit-probe-b: invalid option")) return true;
  throw new Error(`-${name}: the first pass said neither which option it did not know: ${stderr}`);
}

async function optionTable(dir: string, help: string): Promise<Record<string, boolean>> {
  const candidates = new Set([
    // `--preconfig` is listed with two dashes; QEMU takes either spelling.
    ...[...help.matchAll(/^--?([\w.][\w.-]*)/gm)].map((match) => match[1] as string),
    ...recordedOptionNames(),
  ]);
  const table: Record<string, boolean> = {};
  for (const name of [...candidates].sort()) {
    const takesArgument = await probeOption(name, dir);
    if (takesArgument !== undefined) table[name] = takesArgument;
  }
  return table;
}

// /tmp: the one directory the Debian 13 tree shares with the host, so its QEMU finds the cases' sockets.
const dir = mkdtempSync("/tmp/qmpkit-record-emulator-");
try {
  const machineHelp = await text(["-machine", "help"]);
  const machineProps: Record<string, string> = {};
  for (const machine of ["none", `pc-q35-${tag}`, `pc-i440fx-${tag}`]) {
    machineProps[machine] = await text(["-machine", `${machine},help`]);
  }
  const earlier = (existsSync(casesFixture) ? JSON.parse(readFileSync(casesFixture, "utf8")) : {}) as Record<
    string,
    CaseOutcome
  >;
  const cases: Record<string, CaseOutcome> = {};
  for (const testCase of CLI_CASES) {
    if (testCase.only !== undefined && testCase.only !== tag) continue;
    const outcome = await runCase([binary], testCase.args, dir, CLI_CASE_DIR);
    const kept = earlier[testCase.name];
    if (testCase.withoutKvm && !outcome.stderr.includes("Could not access KVM kernel module")) {
      // This QEMU found KVM, so the case shows nothing of the fallback it is about: keep what a host without
      // KVM recorded (the Debian 13 tree has no /dev/kvm; the host may).
      process.stderr.write(
        `${testCase.name}: this QEMU has KVM; ${kept ? "kept the earlier record" : "skipped"}\n`,
      );
      if (kept !== undefined) cases[testCase.name] = kept;
      continue;
    }
    cases[testCase.name] = outcome;
    rmSync(join(dir, "probe.sock"), { force: true });
    process.stderr.write(`${testCase.name}: ${outcome.started ? "started" : `exit ${outcome.status}`}\n`);
  }
  const help = await text(["-help"]);
  const record = {
    recordedWith: (await text(["-version"])).split("\n")[0],
    version: await text(["-version"]),
    help,
    machineHelp,
    machineProps,
    cpuHelp: await text(["-cpu", "help"]),
    deviceHelp: await text(["-device", "help"]),
    accelHelp: await text(["-accel", "help"]),
    options: await optionTable(dir, help),
  };
  writeFileSync(fixture, `${JSON.stringify(record, null, 1)}\n`);
  writeFileSync(casesFixture, `${JSON.stringify(cases, null, 1)}\n`);
  process.stderr.write(`wrote ${fixture} and ${casesFixture}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
