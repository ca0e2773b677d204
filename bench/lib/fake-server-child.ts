/**
 * The testkit's fake QEMU in a process of its own, for bench workloads 1–5 (as a target) and 7 (as a server):
 *
 *   bun bench/lib/fake-server-child.ts SOCKET_PATH
 *
 * Prints `READY` once it listens and runs until killed. In its own process it gets its own core and event loop, as
 * the C server and QEMU do, instead of sharing the bench process's loop with the clients it serves.
 */
import { createFakeQemu } from "../../packages/testkit/src/index.ts";

const path = Bun.argv[2];
if (path === undefined) throw new Error("usage: bun bench/lib/fake-server-child.ts SOCKET_PATH");
// record: false, as its option asks of long runs and benchmarks; benchCommands adds bench-events.
const fake = await createFakeQemu({ path, benchCommands: true, record: false });
const stop = (): void => {
  void fake.close().finally(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
process.stdout.write("READY\n");
