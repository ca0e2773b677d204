// Child-process fixture (run by client-lifecycle.test.ts): QEMU dies mid-session and the program never calls
// disconnect(). It must exit on its own with code 0 and write nothing to stderr: no unhandled rejection, no
// warning, no timer or socket keeping the event loop alive.

import { QMPClient } from "../../src/index.ts";
import { spawnQemu } from "./qemu.ts";

const qemu = spawnQemu();
await qemu.ready();
const client = new QMPClient({ name: "fixture" });
await client.connect(qemu.socketPath);
using _listener = client.listen({ names: ["SHUTDOWN"] });
void client.events; // a default listener nobody reads

await qemu.freeze();
const pending = [
  client.execute("query-status", {}, { timeoutMs: 60_000 }),
  client.execute("human-monitor-command", { "command-line": "info status" }),
];
qemu.proc.kill("SIGKILL");
const outcomes = await Promise.allSettled(pending);
await qemu.proc.exited;
await qemu.stop();
const names = outcomes.map((o) => (o.status === "rejected" ? (o.reason as Error).name : "resolved"));
console.log(JSON.stringify({ names, runstate: client.runstate }));
// No disconnect(): the session's error stays unreported, and that must be harmless.
