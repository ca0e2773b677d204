// Not a test file: `tsc --noEmit -p .` type-checks it (the root tsconfig includes packages/*/test). Every
// `@ts-expect-error` below must stay an error, or tsc reports it as unused; so this pins down that the generated
// QEMU 7.2 types reject what they should, as well as accept what they should.

import type { Commands, EmptyObject, Events, QueryStatusReturn } from "../src/qapi/qemu-7.2.ts";
import type { ExecuteParams, TypedEvent } from "../src/qapi/typed.ts";

declare function execute<K extends keyof Commands>(
  name: K,
  args: Commands[K]["args"],
): Promise<Commands[K]["returns"]>;

/** The shape suggested for `QMPClient.execute`: arguments optional exactly when nothing is required. */
declare function executeOptional<K extends keyof Commands>(
  name: K,
  ...params: ExecuteParams<Commands[K]["args"], { timeoutMs?: number }>
): Promise<Commands[K]["returns"]>;

declare function nextEvent<K extends keyof Events & string>(
  names: readonly K[],
): Promise<TypedEvent<Events, K>>;

export async function accepted(): Promise<void> {
  const status = await execute("query-status", {});
  const running: boolean = status.running;
  const state: QueryStatusReturn["status"] = status.status;
  if (state === "paused" || state === "running") void running;

  await execute("blockdev-del", { "node-name": "disk0" });
  await execute("blockdev-add", {
    driver: "file",
    "node-name": "disk0",
    filename: "/tmp/disk.img",
    "read-only": true,
  });
  await execute("blockdev-add", { driver: "qcow2", "node-name": "q", file: "disk0", backing: null });
  await execute("blockdev-add", {
    driver: "qcow2",
    "node-name": "q",
    file: { driver: "file", filename: "/x" },
  });
  await execute("block-dirty-bitmap-merge", {
    node: "n",
    target: "t",
    bitmaps: ["a", { node: "m", name: "b" }],
  });
  await execute("qom-set", { path: "/machine", property: "x", value: { anything: [1, "goes"] } });

  const blocks = await execute("query-block", {});
  for (const block of blocks) void block.device.toUpperCase();

  const text: string = await execute("human-monitor-command", { "command-line": "info version" });
  void text;
  const value: unknown = await execute("qom-get", { path: "/machine", property: "type" });
  void value;
  const nothing: EmptyObject = await execute("stop", {});
  void nothing;

  await executeOptional("query-status");
  await executeOptional("query-status", {}, { timeoutMs: 1000 });
  await executeOptional("blockdev-del", { "node-name": "disk0" });

  const ev = await nextEvent(["SHUTDOWN", "BLOCK_JOB_COMPLETED"]);
  if (ev.event === "SHUTDOWN") {
    const guest: boolean = ev.data.guest;
    void guest;
  } else {
    const len: number = ev.data.len;
    void len;
  }
}

export async function rejected(): Promise<void> {
  // @ts-expect-error wrong argument type: node-name is a string
  await execute("blockdev-del", { "node-name": 42 });
  // @ts-expect-error unknown member
  await execute("blockdev-del", { "node-name": "disk0", force: true });
  // @ts-expect-error missing required argument node-name
  await execute("blockdev-del", {});
  // @ts-expect-error a command without arguments takes none
  await execute("query-status", { verbose: true });
  // @ts-expect-error enum member outside the list
  await execute("blockdev-add", { driver: "file", filename: "/x", aio: "fast" });
  // @ts-expect-error member of another flat-union branch (qcow2's lazy-refcounts is not a file option)
  await execute("blockdev-add", { driver: "file", filename: "/x", "lazy-refcounts": true });
  // @ts-expect-error missing the branch's required member (file needs filename)
  await execute("blockdev-add", { driver: "file", "node-name": "d" });
  // @ts-expect-error unknown command name
  await execute("query-stauts", {});
  // @ts-expect-error required arguments cannot be left out
  await executeOptional("blockdev-del");

  const status = await execute("query-status", {});
  // @ts-expect-error misuse of a typed result: running is a boolean, not a string
  status.running.toUpperCase();
  // @ts-expect-error misuse of a typed result: no such member
  void status.state;
  // @ts-expect-error misuse of a typed result: status is a RunState literal union, not any string
  const bogus: typeof status.status = "sleeping";
  void bogus;

  const blocks = await execute("query-block", {});
  // @ts-expect-error misuse of a typed result: query-block returns an array
  void blocks.device;

  const ev = await nextEvent(["SHUTDOWN"]);
  // @ts-expect-error SHUTDOWN data has guest and reason, no len
  void ev.data.len;
}
