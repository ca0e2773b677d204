/**
 * The soak's server, run as a child process of bench/soak.ts so the client's CPU and RSS are its own: the
 * testkit's fake QEMU with one extra command, `soak {"seq": N, "events": K}`, which emits K `SOAK` events
 * numbered by a counter global to the server (`{"e": 0}`, `{"e": 1}`, …) before it returns `{"seq": N}` — so
 * events and replies interleave on the wire as the client's random choices of K make them.
 *
 * Prints `{"address": "unix:/…"}` on stdout once listening; exits when its stdin closes (the parent ended,
 * however it ended) or on SIGTERM, removing its socket and temp dir.
 */
import { createFakeQemu } from "../../packages/testkit/src/index.ts";

const fake = await createFakeQemu({ schema: false, record: false });
let nextEvent = 0;
fake.handle("soak", (args, ctx) => {
  const events = args.events as number;
  for (let i = 0; i < events; i++) ctx.emit("SOAK", { e: nextEvent++ });
  return { seq: args.seq };
});
fake.handle("soak-stats", () => ({ emitted: nextEvent }));

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await fake.close();
  process.exit(0);
}
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
// The parent holds our stdin open for as long as it runs: EOF means it is gone.
void (async () => {
  for await (const _ of Bun.stdin.stream()) {
    // Nothing is sent on stdin; reading only detects its end.
  }
  await stop();
})();

console.log(JSON.stringify({ address: fake.address }));
