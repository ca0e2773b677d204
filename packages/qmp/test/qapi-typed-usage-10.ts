// Not a test file: `tsc --noEmit -p .` type-checks it. It pins down how a user picks QEMU 10.0's types: the
// subpath export resolves, and a client typed with it accepts 10.0's schema and rejects what 10.0 dropped.

import { connect, type QMPClient } from "@qmpkit/qmp";
import type { Commands as Commands72 } from "@qmpkit/qmp/qapi/qemu-7.2";
import type { Commands, Events } from "@qmpkit/qmp/qapi/qemu-10.0";

export async function pickTenZero(path: string): Promise<void> {
  const client = await connect<Commands, Events>(path);
  const status = await client.execute("query-status");
  const running: boolean = status.running;
  // @ts-expect-error QEMU 10.0's query-status has no singlestep (7.2's has).
  void status.singlestep;
  // A command 10.0 added is known to the 10.0 client...
  await client.execute("query-audiodevs");
  // ...and one it removed is not.
  // @ts-expect-error x-query-profile is gone in 10.0.
  await client.execute("x-query-profile");
  // @ts-expect-error trace-event-get-state lost its vcpu argument in 10.0.
  await client.execute("trace-event-get-state", { name: "*", vcpu: 0 });
  for await (const event of client.listen({ names: ["VFIO_MIGRATION"] })) void event;
  void running;
}

export async function defaultIsSevenTwo(path: string): Promise<void> {
  // Without type arguments the client is typed for 7.2, the same maps as the 7.2 subpath.
  const client: QMPClient<Commands72> = await connect(path);
  const { singlestep } = await client.execute("query-status");
  void singlestep;
}
