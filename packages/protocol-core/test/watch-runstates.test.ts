/**
 * qemu.qmp's own test suite (python/tests/protocol.py) watches a session with a loop that calls
 * `runstate_changed()` again after each wake-up and expects to see every state in order. Programs ported from
 * Python do the same, so each scenario here runs that loop beside the operation and checks the exact sequence.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { ConnectError, Runstate } from "../src/index.ts";
import { LineProtocol, listenPeer, tempSocketPath, within } from "./helpers.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempPath(): string {
  const temp = tempSocketPath();
  cleanups.push(temp.cleanup);
  return temp.path;
}

function newProtocol(): LineProtocol {
  const protocol = new LineProtocol();
  cleanups.push(() => protocol.disconnect().catch(() => {}));
  return protocol;
}

/** The `_watch_runstates` loop: awaits runstateChanged() once per expected state and records what it saw. */
function watchRunstates(protocol: LineProtocol, count: number): Promise<Runstate[]> {
  return (async () => {
    const seen: Runstate[] = [];
    for (let i = 0; i < count; i++) seen.push(await protocol.runstateChanged());
    return seen;
  })();
}

describe("a loop re-awaiting runstateChanged() sees every transition", () => {
  test("a superfluous disconnect(): DISCONNECTING, IDLE", async () => {
    const protocol = newProtocol();
    const watched = watchRunstates(protocol, 2);
    await protocol.disconnect();
    expect(await within(watched)).toEqual([Runstate.DISCONNECTING, Runstate.IDLE]);
    expect(protocol.runstate).toBe(Runstate.IDLE);
  });

  test("a connect to a path where nothing listens: CONNECTING, DISCONNECTING, IDLE", async () => {
    const protocol = newProtocol();
    const watched = watchRunstates(protocol, 3);
    const error = await protocol.connect(`${tempPath()}.absent`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(await within(watched)).toEqual([Runstate.CONNECTING, Runstate.DISCONNECTING, Runstate.IDLE]);
  });

  test("a connect to something that is not a socket: CONNECTING, DISCONNECTING, IDLE", async () => {
    const path = tempPath();
    writeFileSync(path, "not a socket");
    const protocol = newProtocol();
    const watched = watchRunstates(protocol, 3);
    expect(await protocol.connect(path).catch((e: unknown) => e)).toBeInstanceOf(ConnectError);
    expect(await within(watched)).toEqual([Runstate.CONNECTING, Runstate.DISCONNECTING, Runstate.IDLE]);
  });

  test("a connect aborted by its signal: CONNECTING, DISCONNECTING, IDLE", async () => {
    const path = tempPath();
    // A peer that accepts the connection; the attempt is aborted while the session is being set up.
    const peer = listenPeer({ unix: path });
    cleanups.push(() => peer.stop());
    const protocol = newProtocol();
    const watched = watchRunstates(protocol, 3);
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    const error = await protocol.connect(path, { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as Error).message).toBe("stop");
    expect(await within(watched)).toEqual([Runstate.CONNECTING, Runstate.DISCONNECTING, Runstate.IDLE]);
  });

  test("a whole session: CONNECTING, RUNNING, DISCONNECTING, IDLE", async () => {
    const path = tempPath();
    const peer = listenPeer({ unix: path });
    cleanups.push(() => peer.stop());
    const protocol = newProtocol();
    const watched = watchRunstates(protocol, 4);
    await within(protocol.connect(path));
    await within(protocol.disconnect());
    expect(await within(watched)).toEqual([
      Runstate.CONNECTING,
      Runstate.RUNNING,
      Runstate.DISCONNECTING,
      Runstate.IDLE,
    ]);
  });

  test("a session the peer ends, then disconnect(): RUNNING, DISCONNECTING, IDLE", async () => {
    const path = tempPath();
    const peer = listenPeer({ unix: path });
    cleanups.push(() => peer.stop());
    const protocol = newProtocol();
    await within(protocol.connect(path));
    const watched = watchRunstates(protocol, 2);
    (await peer.connected).end();
    while (protocol.runstate === Runstate.RUNNING) await within(protocol.runstateChanged());
    await protocol.disconnect().catch(() => {});
    expect(await within(watched)).toEqual([Runstate.DISCONNECTING, Runstate.IDLE]);
  });

  test("two watchers woken together both see the whole sequence", async () => {
    const protocol = newProtocol();
    const first = watchRunstates(protocol, 2);
    const second = watchRunstates(protocol, 2);
    await protocol.disconnect();
    expect(await within(first)).toEqual([Runstate.DISCONNECTING, Runstate.IDLE]);
    expect(await within(second)).toEqual([Runstate.DISCONNECTING, Runstate.IDLE]);
  });
});
