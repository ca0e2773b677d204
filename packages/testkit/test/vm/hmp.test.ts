/**
 * HMP through QMP: QEMU's texts for help and unknown commands, aliases, and loud refusal of the unmodelled, each
 * generation's own.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { connect, type ExecuteError, type QMPClient } from "@qmpkit/qmp";
import { createFakeQemu, type FakeQemu, type QemuRelease } from "../../src/index.ts";
import { requestKey } from "../../src/profiles/key.ts";
import { loadProfile } from "../../src/profiles/profile.ts";

let fake: FakeQemu;
let client: QMPClient;
afterEach(async () => {
  await client.disconnect().catch(() => {});
  await fake.close();
});

async function hmp(line: string): Promise<unknown> {
  return client.executeUntyped("human-monitor-command", { "command-line": line });
}

async function start(): Promise<void> {
  fake = await createFakeQemu();
  client = await connect(fake.address);
}

test("unknown commands get QEMU's text; empty lines print nothing", async () => {
  await start();
  expect(await hmp("frobnicate")).toBe("unknown command: 'frobnicate'\r\n");
  expect(await hmp("info frobnicate")).toBe("unknown command: 'info frobnicate'\r\n");
  expect(await hmp("   ")).toBe("");
  expect(await hmp("help stop")).toBe("stop|s  -- stop emulation\r\n");
});

test("a command QEMU has but the model lacks is refused and listed in fake.errors", async () => {
  await start();
  const error = (await hmp("info mtree").catch((e) => e)) as ExecuteError;
  expect(error.desc).toBe("qmpkit fake: HMP command 'info mtree' is not implemented");
  expect(fake.errors.map((e) => e.message)).toEqual([
    "HMP command 'info mtree' is not implemented by the fake",
  ]);
});

test("cpu-index on -machine none is QEMU's error", async () => {
  await start();
  const error = (await client
    .executeUntyped("human-monitor-command", { "command-line": "info status", "cpu-index": 0 })
    .catch((e) => e)) as ExecuteError;
  expect(error.desc).toBe("Parameter 'cpu-index' expects a CPU number");
});

/**
 * `help`, `help CMD`, `info` and the HMP commands a generation has or lacks come from that generation's recording:
 * 10.0 dropped `singlestep` and `info profile`, added `one-insn-per-tb` and `info cryptodev`, and reworded help
 * lines (`migrate` lost `-b`/`-i`).
 */
describe("per QEMU generation", () => {
  const cases: { version: QemuRelease; has: string; lacks: string; infoHas: string; infoLacks: string }[] = [
    {
      version: "7.2",
      has: "singlestep",
      lacks: "one-insn-per-tb",
      infoHas: "profile",
      infoLacks: "cryptodev",
    },
    {
      version: "10.0",
      has: "one-insn-per-tb",
      lacks: "singlestep",
      infoHas: "cryptodev",
      infoLacks: "profile",
    },
  ];
  for (const { version, has, lacks, infoHas, infoLacks } of cases) {
    test(`${version}: help, help CMD and info are ${version}'s recording; its commands are known, the other's not`, async () => {
      const profile = await loadProfile({ qemuVersion: version, machine: "none" });
      const recorded = (line: string) =>
        profile.returnOf<string>("human-monitor-command", { "command-line": line });
      fake = await createFakeQemu({ qemuVersion: version });
      client = await connect(fake.address);
      expect(await hmp("help")).toBe(recorded("help"));
      expect(await hmp("?")).toBe(recorded("help"));
      expect(await hmp("help info")).toBe(recorded("help info"));
      expect(await hmp("info")).toBe(recorded("help info"));
      const migrate = recorded("help")
        .split("\r\n")
        .findIndex((line) => line.startsWith("migrate "));
      const lines = recorded("help").split("\r\n");
      let expected = `${lines[migrate]}\r\n`;
      for (const line of lines.slice(migrate + 1)) {
        if (!/^\s/.test(line)) break;
        expected += `${line}\r\n`;
      }
      expect(await hmp("help migrate")).toBe(expected);
      expect(await hmp(`help ${has}`)).toStartWith(`${has} [on|off] -- `);
      expect(await hmp(`help ${lacks}`)).toBe(`unknown command: '${lacks}'\r\n`);
      expect(await hmp(lacks)).toBe(`unknown command: '${lacks}'\r\n`);
      expect(await hmp(`info ${infoLacks}`)).toBe(`unknown command: 'info ${infoLacks}'\r\n`);
      // Known to this QEMU: answered from the model or the profile, or refused as unmodelled — never "unknown".
      const known = await hmp(`info ${infoHas}`).catch((error: ExecuteError) => error.desc);
      expect(known).not.toBe(`unknown command: 'info ${infoHas}'\r\n`);
    });
  }

  for (const { version } of cases) {
    for (const machine of ["none", "q35"] as const) {
      test(`${version} ${machine}: every info text the fake answers is what QEMU ${version} printed`, async () => {
        const profile = await loadProfile({ qemuVersion: version, machine });
        fake = await createFakeQemu({
          qemuVersion: version,
          machine,
          // The recording's state: q35 was recorded as managers start it, paused before the guest runs.
          status: profile.startPaused ? "prelaunch" : "running",
        });
        client = await connect(fake.address);
        const subcommands = [
          ...profile
            .returnOf<string>("human-monitor-command", { "command-line": "help info" })
            .matchAll(/^info (\S+)/gm),
        ].map((match) => match[1] as string);
        let compared = 0;
        for (const sub of subcommands) {
          const line = `info ${sub}`;
          const recorded = profile.reply("human-monitor-command", { "command-line": line });
          if (recorded?.kind !== "return") continue;
          if (profile.isVolatile(requestKey("human-monitor-command", { "command-line": line }))) continue;
          const answer = await hmp(line).catch((error: ExecuteError) => error);
          // Refused as unmodelled: loud, and listed in fake.errors (the test above).
          if (answer instanceof Error) continue;
          expect({ line, answer }).toEqual({ line, answer: recorded.value() });
          compared++;
        }
        expect(compared).toBeGreaterThanOrEqual(14);
      });
    }
  }
});
