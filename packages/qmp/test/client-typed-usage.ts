// Not a test file: `tsc --noEmit -p .` type-checks it (the root tsconfig includes packages/*/test). Each
// `@ts-expect-error` must stay an error, or tsc reports it as unused: this pins down that QMPClient's typed
// surface accepts what it should and rejects what it should, with the shipped QEMU 7.2 maps and with a user's own.

import {
  type EventListener,
  type ExecuteOptions,
  QMPClient,
  type QMPEvent,
  type TypedEvent,
} from "../src/index.ts";
import type { Commands as Qemu72Commands } from "../src/qapi/qemu-7.2.ts";

export async function acceptedWithShippedTypes(client: QMPClient): Promise<void> {
  const status = await client.execute("query-status");
  const running: boolean = status.running;
  const state: Qemu72Commands["query-status"]["returns"]["status"] = status.status;
  void running;
  void state;

  const options: ExecuteOptions = { timeoutMs: 1000, signal: AbortSignal.timeout(1000), oob: false };
  await client.execute("query-status", {}, options);
  const text: string = await client.execute(
    "human-monitor-command",
    { "command-line": "info status" },
    options,
  );
  void text;
  await client.execute("blockdev-del", { "node-name": "disk0" });
  const commands = await client.execute("query-commands");
  for (const command of commands) void command.name.toUpperCase();

  const anything: unknown = await client.executeUntyped("x-made-up", { whatever: [1, 2] });
  void anything;

  using shutdowns = client.listen({ names: ["SHUTDOWN"] });
  const ev = await shutdowns.get();
  const guest: boolean = ev.data.guest;
  const reason: string = ev.data.reason;
  void guest;
  void reason;

  using guestOnly = client.listen({
    names: ["SHUTDOWN"],
    // Compiles only because the filter sees typed data: on an untyped event, data.guest would be `unknown`.
    filter: (e) => e.data.guest,
    highWaterMark: 16,
    overflow: "drop-newest",
  });
  void guestOnly.dropped;

  using mixed = client.listen({ names: ["SHUTDOWN", "BLOCK_JOB_COMPLETED"] });
  for await (const e of mixed) {
    if (e.event === "BLOCK_JOB_COMPLETED") void e.data.len.toFixed();
    else void e.data.guest;
  }

  // Names the map does not know fall back to untyped events (a newer QEMU's events still arrive).
  const unknown: EventListener<QMPEvent> = client.listen({ names: ["FUTURE_EVENT"] });
  void unknown;
  const all: EventListener<QMPEvent> = client.events;
  void all;

  const stop: TypedEvent<import("../src/qapi/qemu-7.2.ts").Events, "STOP"> =
    await client.waitForEvent("STOP");
  void stop;
  const filtered = await client.waitForEvent("DEVICE_DELETED", { filter: (e) => e.data.device === "nic0" });
  void filtered.data.path;
}

export async function deviceProperties(client: QMPClient): Promise<void> {
  // device_add is 'gen': false in QEMU: any property of the device rides along with the listed members.
  await client.execute("device_add", {
    driver: "virtio-net-pci",
    id: "nic0",
    netdev: "n0",
    mac: "52:54:00:12:34:56",
  });
  // @ts-expect-error the listed members are still typed: driver is required
  await client.execute("device_add", { netdev: "n0" });
}

export async function rejectedWithShippedTypes(client: QMPClient): Promise<void> {
  // @ts-expect-error unknown command names need executeUntyped
  await client.execute("query-stauts");
  // @ts-expect-error wrong argument type: node-name is a string
  await client.execute("blockdev-del", { "node-name": 42 });
  // @ts-expect-error required arguments cannot be left out
  await client.execute("blockdev-del");
  // @ts-expect-error unknown member
  await client.execute("blockdev-del", { "node-name": "d", force: true });
  // @ts-expect-error a command without arguments takes none
  await client.execute("query-status", { verbose: true });
  // @ts-expect-error human-monitor-command needs command-line
  await client.execute("human-monitor-command", {});

  const status = await client.execute("query-status");
  // @ts-expect-error misuse of a typed result: running is a boolean
  status.running.toUpperCase();
  // @ts-expect-error misuse of a typed result: no such member
  void status.state;

  using shutdowns = client.listen({ names: ["SHUTDOWN"] });
  const ev = await shutdowns.get();
  // @ts-expect-error SHUTDOWN data has guest and reason, no len
  void ev.data.len;
  // @ts-expect-error overflow is one of three policies
  using badPolicy = client.listen({ names: ["SHUTDOWN"], overflow: "block" });
  void badPolicy;
  // @ts-expect-error the event name is the literal "SHUTDOWN"
  const other: "STOP" = ev.event;
  void other;
}

/** A user's own generated maps plug in as type arguments. */
interface MyCommands {
  "my-command": { args: { level: number; label?: string }; returns: { ok: boolean } };
  "my-noargs": { args: Record<string, never>; returns: Record<string, never> };
}
interface MyEvents {
  MY_EVENT: { level: number };
}

export async function ownMaps(): Promise<void> {
  const client = new QMPClient<MyCommands, MyEvents>();
  const reply = await client.execute("my-command", { level: 3 });
  const ok: boolean = reply.ok;
  void ok;
  await client.execute("my-noargs");
  using mine = client.listen({ names: ["MY_EVENT"] });
  const level: number = (await mine.get()).data.level;
  void level;
  // @ts-expect-error QEMU 7.2's commands are not in this client's map
  await client.execute("query-status");
  // @ts-expect-error level is required
  await client.execute("my-command", { label: "x" });
}
