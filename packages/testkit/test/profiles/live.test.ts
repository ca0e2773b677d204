/**
 * Drift check: a real QEMU started like the recording must still answer as the profile says. Every recorded
 * state query and HMP text, a quarter of the QOM values and a sample of the type sweeps are compared (except
 * replies the profile marks as varying between runs). A QEMU package update that changes a reply fails here: re-record the profile.
 */
import { describe, expect, test } from "bun:test";
import { RawQMP, stripId } from "../../scripts/lib/raw-qmp.ts";
import {
  loadProfile,
  MACHINES,
  type QemuRelease,
  requireQemu,
  requireQemu10,
  skipWithoutQemu,
  skipWithoutQemu10,
  spawnQemu,
} from "../../src/index.ts";

const SWEEP = /^(device-list-properties|qom-list-properties|qom-list-types) /;

const GENERATIONS: { version: QemuRelease; skip: boolean; require: () => void }[] = [
  { version: "7.2", skip: skipWithoutQemu(), require: () => requireQemu() },
  { version: "10.0", skip: skipWithoutQemu10(), require: requireQemu10 },
];

for (const { version, skip, require } of GENERATIONS) {
  describe.skipIf(skip)(`profiles against a real QEMU ${version}`, () => {
    for (const machine of MACHINES) {
      test(`${machine}: QEMU answers the recorded requests with the recorded text`, async () => {
        require();
        const profile = await loadProfile({ qemuVersion: version, machine });
        await using qemu = await spawnQemu({ qemuVersion: version, args: [...profile.args] });
        const peer = await RawQMP.connect(qemu.path);
        try {
          const greeting = await peer.next(10_000);
          expect(greeting?.text).toBe(profile.greetingText);
          await peer.execute("qmp_capabilities");
          const keys = profile.keys().filter((key) => !profile.isVolatile(key));
          // The sweeps instantiate types, so the state (and the QOM tree) is compared first. QEMU reads its
          // monitor a byte per main-loop turn, so a full pass takes ~10 s: every state query, every 4th qom-get
          // (~500 QOM values on q35) and every 15th sweep reply keep it near 2 s and still catch a drift.
          const qomGets = keys.filter((key) => key.startsWith("qom-get ")).filter((_, i) => i % 4 === 0);
          const state = keys.filter((key) => !SWEEP.test(key) && !key.startsWith("qom-get ")).concat(qomGets);
          const sweep = keys.filter((key) => SWEEP.test(key)).filter((_, i) => i % 15 === 0);
          const differing: string[] = [];
          for (const key of [...state, ...sweep]) {
            const space = key.indexOf(" ");
            const command = space < 0 ? key : key.slice(0, space);
            const args = space < 0 ? undefined : JSON.parse(key.slice(space + 1));
            const text = stripId(await peer.execute(command, args)).replaceAll(
              qemu.path,
              profile.socketPlaceholder,
            );
            if (text !== profile.replyTextByKey(key)) differing.push(key);
          }
          expect(differing).toEqual([]);
          expect(state.length + sweep.length).toBeGreaterThan(machine === "q35" ? 900 : 300);
        } finally {
          peer.close();
        }
      }, 60_000);
    }
  });
}
