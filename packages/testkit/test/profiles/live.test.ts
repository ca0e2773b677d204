/**
 * Drift check: a real QEMU started like the recording must still answer as the profile says. Every recorded
 * state query, HMP text and QOM value is compared (except those the profile marks as varying between runs), and
 * a sample of the type sweeps. A QEMU package update that changes a reply fails here: re-record the profile.
 */
import { describe, expect, test } from "bun:test";
import { RawQmp, stripId } from "../../scripts/lib/raw-qmp.ts";
import {
  loadProfile,
  MACHINES,
  type QemuVersion,
  requireQemu,
  requireQemu10,
  skipWithoutQemu,
  skipWithoutQemu10,
  spawnQemu,
} from "../../src/index.ts";

const SWEEP = /^(device-list-properties|qom-list-properties|qom-list-types) /;

const GENERATIONS: { version: QemuVersion; skip: boolean; require: () => void }[] = [
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
        const peer = await RawQmp.connect(qemu.path);
        try {
          const greeting = await peer.next(10_000);
          expect(greeting?.text).toBe(profile.greetingText);
          await peer.execute("qmp_capabilities");
          const keys = profile.keys().filter((key) => !profile.isVolatile(key));
          // The sweeps instantiate types, so the state (and the QOM tree) is compared first; every 15th sweep reply.
          const state = keys.filter((key) => !SWEEP.test(key));
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
          expect(state.length + sweep.length).toBeGreaterThan(machine === "q35" ? 2000 : 300);
        } finally {
          peer.close();
        }
      }, 60_000);
    }
  });
}
