#!/usr/bin/env bun
/**
 * Replays what libvirt sent on one monitor of the recorded libvirt scenario to the fake emulator started with
 * the command line libvirt built for that domain, and prints every reply that differs from real QEMU's. Seconds
 * per try where the whole virsh scenario takes a minute, and it names the exact command that differs: the loop
 * for making the fake start libvirt's domains. A report, not a test: it exits 0 whatever it finds.
 *
 *   bun packages/testkit/scripts/libvirt-replay.ts [--monitor 2] [--domain qmpkit-lv] [--start 1]
 *     [--qemu-version 7.2] [--max 20] [--all]
 *
 * The monitor's inherited fd becomes a socket path; `$DIR` is a fresh temp dir holding the disk images the
 * scenario creates. A command that carried a descriptor (getfd) gets one (/dev/null) the way libvirt sends it.
 * Commands go one after another without waiting for the events libvirt waits for, so replies that depend on
 * time (a block job's progress, a migration's status) differ here and are for the full scenario to judge.
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
// The client's own SCM_RIGHTS sender (a dev script may reach into the sibling package's source).
import { sendFdOverSocket } from "../../qmp/src/fd-passing.ts";
import { FIXTURE_DIR, libvirtFixtures } from "../test/libvirt/fixture-paths.ts";
import { type Exchange, exchangesOn, traceFromJsonl } from "../test/libvirt/monitor-trace.ts";
import { LOG_STEP, stepsFromText } from "../test/libvirt/normalise.ts";
import { DOMAIN } from "../test/libvirt/scenario.ts";

const { values } = parseArgs({
  options: {
    monitor: { type: "string", default: "2" },
    "qemu-version": { type: "string", default: "7.2" },
    max: { type: "string", default: "20" },
    all: { type: "boolean", default: false },
    domain: { type: "string", default: DOMAIN },
    // Which of the domain's logged starts (1: its first; 2: restore's, with -incoming defer).
    start: { type: "string", default: "1" },
  },
});
const qemuVersion = values["qemu-version"] === "10.0" ? "10.0" : "7.2";
const fixtures = libvirtFixtures(qemuVersion);
const monitor = Number(values.monitor);
const maxDiffs = values.all ? Number.POSITIVE_INFINITY : Number(values.max);

const dir = mkdtempSync(join(tmpdir(), "qmpkit-lv-replay-"));
const socketPath = join(dir, "monitor.sock");

/** The emulator's arguments from the nth logged start of `domain`, with `$DIR` and the monitor's fd replaced. */
function commandLine(stepsText: string, domain: string, nth: number): string[] {
  const log = stepsFromText(stepsText)[`${LOG_STEP}${domain}`] ?? "";
  const lines = log.split("\n");
  const starts = lines.flatMap((line, index) => (line.startsWith("$EMULATOR") ? [index] : []));
  const start = starts[nth - 1] ?? -1;
  const args: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("-")) break;
    const text = line.replace(/ \\$/, "");
    const space = text.indexOf(" ");
    const option = space < 0 ? text : text.slice(0, space);
    let value = space < 0 ? undefined : text.slice(space + 1);
    if (value?.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1);
    args.push(option);
    if (value !== undefined) args.push(value.replaceAll("$DIR", dir));
  }
  return args.map((arg) => arg.replace(/fd=(\d+|N),server=on/, `path=${socketPath},server=on`));
}

async function prepareDir(domain: string): Promise<void> {
  const domainDir = join(dir, "root", "lib", "qemu", `domain-1-${domain}`);
  mkdirSync(domainDir, { recursive: true });
  writeFileSync(join(domainDir, "master-key.aes"), new Uint8Array(32));
  // As test/libvirt/scenario.ts makes them.
  for (const [name, format, size] of [
    ["disk.qcow2", "qcow2", "64M"],
    ["extra.raw", "raw", "16M"],
    ["scsi.raw", "raw", "8M"],
  ] as const) {
    const made = Bun.spawnSync(["qemu-img", "create", "-q", "-f", format, join(dir, name), size]);
    if (made.exitCode !== 0) throw new Error(`qemu-img create ${name}: ${made.stderr.toString()}`);
  }
  // virsh blockcopy creates its target empty and QEMU formats it (blockdev-create); a later start uses it.
  if (Number(values.start) === 1) writeFileSync(join(dir, "copy.qcow2"), "");
  else Bun.spawnSync(["qemu-img", "create", "-q", "-f", "qcow2", join(dir, "copy.qcow2"), "64M"]);
}

const stepsText = await Bun.file(join(FIXTURE_DIR, fixtures.steps)).text();
const trace = traceFromJsonl(await Bun.file(join(FIXTURE_DIR, fixtures.trace)).text());
await prepareDir(values.domain);
// The logged start may be the domain's second (restore's); the files prepared are domain-1's.
const fixedArgs = commandLine(stepsText, values.domain, Number(values.start)).map((arg) =>
  arg.replace(/domain-\d+-/, "domain-1-"),
);

const emulator = Bun.spawn(
  [process.execPath, join(import.meta.dir, "..", "test", "libvirt", "fake-emulator.ts"), ...fixedArgs],
  {
    stdout: "pipe",
    stderr: "pipe",
    env: {
      ...process.env,
      QMPKIT_FAKE_QEMU_LOG: join(dir, "fake.log"),
      ...(qemuVersion === "10.0" ? { QMPKIT_FAKE_QEMU_VERSION: "10.0" } : {}),
    },
  },
);

async function waitForSocket(): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    // Bun.file().exists() is false for a socket.
    if (existsSync(socketPath)) return true;
    if (emulator.exitCode !== null) return false;
    await Bun.sleep(25);
  }
  return false;
}

try {
  if (!(await waitForSocket())) {
    if (emulator.exitCode === null) emulator.kill();
    await emulator.exited;
    console.log(`the emulator did not open its monitor (exit ${emulator.exitCode}):`);
    console.log(await new Response(emulator.stderr).text());
    console.log(`arguments:\n${fixedArgs.join("\n")}`);
  } else {
    await replay(exchangesOn(trace, monitor).filter((e) => e.reply !== undefined));
  }
} finally {
  if (emulator.exitCode === null) emulator.kill();
  await emulator.exited;
  rmSync(dir, { recursive: true, force: true });
}

async function replay(list: readonly Exchange[]): Promise<void> {
  const pending = new Map<string, (reply: unknown) => void>();
  const events: string[] = [];
  let buffered = "";
  const socket = await Bun.connect({
    unix: socketPath,
    socket: {
      data(_socket, chunk) {
        buffered += chunk.toString();
        let newline = buffered.indexOf("\n");
        while (newline >= 0) {
          const message = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
          buffered = buffered.slice(newline + 1);
          if ("event" in message) events.push(String(message.event));
          else if ("id" in message) pending.get(String(message.id))?.(message);
          newline = buffered.indexOf("\n");
        }
      },
    },
  });
  const send = async (message: Record<string, unknown>, withFd: boolean) => {
    if (withFd) {
      const passed = openSync("/dev/null", "r");
      await sendFdOverSocket((socket as unknown as { fd: number }).fd, passed, async () => {});
      closeSync(passed);
    }
    return await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${JSON.stringify(message)}`)), 10_000);
      pending.set(String(message.id), (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      socket.write(`${JSON.stringify(message).replaceAll("$DIR", dir)}\n`);
    });
  };
  let differing = 0;
  for (const { send: message, withFd, reply: recv } of list) {
    let reply: unknown;
    try {
      reply = await send(message, withFd);
    } catch (error) {
      console.log(`STOP ${(error as Error).message}`);
      break;
    }
    const expected = normalise(JSON.stringify(recv));
    const actual = normalise(JSON.stringify(reply));
    if (expected === actual || expected.includes('"(condensed:')) continue;
    differing++;
    console.log(
      `→ ${JSON.stringify(message)}\n  real: ${expected.slice(0, 600)}\n  fake: ${actual.slice(0, 600)}`,
    );
    if (differing >= maxDiffs) break;
  }
  console.log(`${differing} of ${list.length} replies differ; events seen: ${events.join(" ")}`);
  const notes = (
    await Bun.file(join(dir, "fake.log"))
      .text()
      .catch(() => "")
  )
    .split("\n")
    .filter((line) => /not (created|implemented)|error/i.test(line));
  if (notes.length > 0) console.log(`the fake's log:\n${notes.join("\n").slice(0, 3000)}`);
  socket.end();
}

function normalise(text: string): string {
  return text.replaceAll(dir, "$DIR").replace(/\/dev\/pts\/\d+/g, "/dev/pts/N");
}
