// The client against a real qemu-system-x86_64 (skipped without QEMU, failing under CI=true).

import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import {
  ConnectError,
  ConnectionClosedError,
  connect,
  ExecInterruptedError,
  ExecuteError,
  QMPClient,
  type QMPMessage,
  QMPValidationError,
  Runstate,
} from "../src/index.ts";
import {
  QEMU_TEST_TIMEOUT_MS,
  type QemuHandle,
  requireQemu,
  skipWithoutQemu,
  spawnQemu,
} from "./helpers/qemu.ts";
import { freeSocketPath } from "./helpers/script-server.ts";
import { rejection, within } from "./helpers/within.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

async function startQemu(options: Parameters<typeof spawnQemu>[0] = {}): Promise<QemuHandle> {
  requireQemu();
  const qemu = spawnQemu(options);
  cleanups.push(() => qemu.stop());
  if (options.mode !== "client") await qemu.ready();
  return qemu;
}

function track<T extends QMPClient>(client: T): T {
  cleanups.push(() => client.disconnect());
  return client;
}

async function connected(qemu: QemuHandle, options: Parameters<typeof connect>[1] = {}): Promise<QMPClient> {
  return track(await within(connect(qemu.socketPath, options), 10_000, "connect"));
}

describe.skipIf(skipWithoutQemu)("against real QEMU", () => {
  test(
    "connect() reads the greeting, negotiates oob and executes query-status",
    async () => {
      const qemu = await startQemu();
      const client = await connected(qemu);
      expect(client.runstate).toBe(Runstate.RUNNING);
      expect(client.greeting?.QMP.version.qemu.major).toBeGreaterThanOrEqual(7);
      expect(typeof client.greeting?.QMP.version.package).toBe("string");
      expect(client.greeting?.QMP.capabilities).toContain("oob");
      expect(client.capabilities).toEqual(["oob"]);
      const status = await within(client.execute("query-status"));
      expect(status.running).toBe(true);
      expect(status.status).toBe("running");
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "oob: false negotiates without oob, and exec-oob is then refused locally",
    async () => {
      const qemu = await startQemu();
      const client = await connected(qemu, { oob: false });
      expect(client.capabilities).toEqual([]);
      expect(await rejection(client.execute("query-status", {}, { oob: true }))).toHaveProperty(
        "code",
        "QMP_ERR_OOB_NOT_ENABLED",
      );
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "exec-oob runs an oob-capable command (query-yank); QEMU refuses oob for others",
    async () => {
      const qemu = await startQemu();
      const outbound: QMPMessage[] = [];
      const client = await connected(qemu, { onOutbound: (m) => outbound.push(m) });
      const instances = await within(client.execute("query-yank", {}, { oob: true }));
      expect(Array.isArray(instances)).toBe(true);
      expect(outbound.at(-1)).toHaveProperty("exec-oob", "query-yank");
      const error = await rejection(client.execute("query-status", {}, { oob: true }));
      expect(error).toBeInstanceOf(ExecuteError);
      expect((error as ExecuteError).desc).toBe("The command query-status does not support OOB");
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "query-commands lists the commands; an unknown command is ExecuteError(CommandNotFound)",
    async () => {
      const qemu = await startQemu();
      const client = await connected(qemu);
      const commands = await within(client.execute("query-commands"));
      expect(commands.map((c) => c.name)).toContain("query-status");
      const error = await within(client.executeUntyped("no-such-command").catch((e: unknown) => e));
      expect(error).toBeInstanceOf(ExecuteError);
      expect((error as ExecuteError).errorClass).toBe("CommandNotFound");
      expect((error as ExecuteError).message).toBe("The command no-such-command has not been found");
      expect(await within(client.execute("query-status"))).toHaveProperty("running");
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "stop and cont: STOP and RESUME are delivered before their commands resolve",
    async () => {
      const qemu = await startQemu();
      const client = await connected(qemu);
      using listener = client.listen({ names: ["STOP", "RESUME"] });
      await within(client.execute("stop"));
      expect(listener.clear().map((e) => e.event)).toEqual(["STOP"]);
      expect((await client.execute("query-status")).status).toBe("paused");
      await within(client.execute("cont"));
      expect(listener.clear().map((e) => e.event)).toEqual(["RESUME"]);
      expect((await client.execute("query-status")).running).toBe(true);
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "human-monitor-command returns HMP's text",
    async () => {
      const qemu = await startQemu();
      const client = await connected(qemu);
      const text = await within(client.execute("human-monitor-command", { "command-line": "info status" }));
      expect(text).toContain("VM status: running");
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "1,000 concurrent executes all resolve with their own replies",
    async () => {
      const qemu = await startQemu();
      const client = await connected(qemu);
      const calls = Array.from({ length: 1000 }, (_, i) => {
        switch (i % 4) {
          case 0:
            return client.execute("query-status").then((r) => ["status", r.status] as const);
          case 1:
            return client.execute("query-version").then((r) => ["version", r.qemu.major] as const);
          case 2:
            return client
              .executeRaw({ execute: "query-name", id: `mine-${i}` })
              .then((r) => ["raw", r.id] as const);
          default:
            return client.execute("human-monitor-command", { "command-line": `echo ${i}` }).then(
              (r) => ["hmp", r] as const,
              (e: ExecuteError) => ["hmp-error", e.errorClass] as const,
            );
        }
      });
      const results = await within(Promise.all(calls), 15_000, "1000 executes");
      results.forEach(([kind, value], i) => {
        if (i % 4 === 0) expect([kind, value]).toEqual(["status", "running"]);
        if (i % 4 === 1) expect([kind, value]).toEqual(["version", client.greeting?.QMP.version.qemu.major]);
        if (i % 4 === 2) expect([kind, value]).toEqual(["raw", `mine-${i}`]);
        if (i % 4 === 3) expect(kind).toStartWith("hmp");
      });
      expect(client.pendingCount).toBe(0);
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "a large reply (query-qmp-schema, far beyond 64 KiB) works by default",
    async () => {
      const qemu = await startQemu();
      const inbound: number[] = [];
      const client = await connected(qemu, { onInbound: (m) => inbound.push(JSON.stringify(m).length) });
      const schema = (await within(client.executeUntyped("query-qmp-schema"))) as unknown[];
      expect(inbound.at(-1)).toBeGreaterThan(100 * 1024);
      expect(schema.length).toBeGreaterThan(500);
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "quit: SHUTDOWN arrives before the reply, quit resolves {}, and disconnect() does not throw",
    async () => {
      const qemu = await startQemu();
      const client = await connected(qemu);
      using shutdowns = client.listen({ names: ["SHUTDOWN"] });
      const waited = client.waitForEvent("SHUTDOWN");
      expect(await within(client.execute("quit"))).toEqual({});
      // Synchronously after quit resolved: SHUTDOWN is already here (QEMU sends it first).
      const [shutdown] = shutdowns.clear();
      expect(shutdown?.data).toEqual({ guest: false, reason: "host-qmp-quit" });
      expect((await within(waited)).event).toBe("SHUTDOWN");
      await within(client.disconnect());
      expect(client.runstate).toBe(Runstate.IDLE);
      expect(await within(qemu.proc.exited)).toBe(0);
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "QEMU killed mid-command: pending rejects with ExecInterruptedError, disconnect() rethrows, IDLE",
    async () => {
      const qemu = await startQemu();
      const client = await connected(qemu);
      // Stopping the process first makes "mid-command" certain: the command is sent and cannot be answered.
      await qemu.freeze();
      const pending = client.execute("query-status");
      const waiting = client.waitForEvent("SHUTDOWN");
      await Bun.sleep(0);
      qemu.proc.kill("SIGKILL");
      const error = await rejection(pending);
      expect(error).toBeInstanceOf(ExecInterruptedError);
      expect((error as ExecInterruptedError).command).toBe("query-status");
      expect(await rejection(waiting)).toBeInstanceOf(ConnectionClosedError);
      const thrown = await rejection(client.disconnect());
      expect(thrown).toBeInstanceOf(ConnectionClosedError);
      expect(client.runstate).toBe(Runstate.IDLE);
      // Rethrown once: a second disconnect() is quiet.
      await within(client.disconnect());
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "a second client gets no greeting from QEMU's one-client monitor: it times out instead of hanging",
    async () => {
      const qemu = await startQemu();
      await connected(qemu);
      const second = track(new QMPClient({ greetingTimeoutMs: 200 }));
      const error = await rejection(second.connect(qemu.socketPath));
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe("QMP_ERR_GREETING_TIMEOUT");
      expect(second.runstate).toBe(Runstate.IDLE);
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "a SIGSTOPped QEMU never greets: connect times out",
    async () => {
      const qemu = await startQemu();
      await qemu.freeze();
      cleanups.push(() => qemu.proc.kill("SIGCONT"));
      const client = track(new QMPClient({ greetingTimeoutMs: 200 }));
      expect(((await rejection(client.connect(qemu.socketPath))) as ConnectError).code).toBe(
        "QMP_ERR_GREETING_TIMEOUT",
      );
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "retry: connect begins before QEMU starts and succeeds once its socket appears",
    async () => {
      const where = freeSocketPath();
      cleanups.push(where.cleanup);
      const client = track(new QMPClient());
      const connecting = client.connect(where.path, {
        retry: { attempts: 500, delayMs: 20 },
        timeoutMs: 15_000,
      });
      // Start QEMU only after the client has failed at least once.
      while (client.runstate !== Runstate.IDLE) await within(client.runstateChanged());
      await startQemu({ socketPath: where.path });
      await within(connecting, 15_000);
      expect((await client.execute("query-status")).running).toBe(true);
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "server mode: startServerAndAccept() takes QEMU's connection (-qmp unix:PATH) and negotiates",
    async () => {
      const where = freeSocketPath();
      cleanups.push(where.cleanup);
      const client = track(new QMPClient());
      // The socket listens before this call returns its promise, so QEMU can be started right after.
      const accepting = client.startServerAndAccept(where.path);
      await startQemu({ mode: "client", socketPath: where.path });
      await within(accepting, 10_000);
      expect(client.capabilities).toEqual(["oob"]);
      expect((await client.execute("query-status")).running).toBe(true);
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "sendFd passes a descriptor that getfd names and closefd closes",
    async () => {
      const qemu = await startQemu();
      const client = await connected(qemu);
      const without = await rejection(client.execute("getfd", { fdname: "fd0" }));
      expect((without as ExecuteError).desc).toContain("SCM_RIGHTS");
      const fd = openSync(join(qemu.dir, "passed.txt"), "w");
      try {
        await within(client.sendFd(fd));
        await within(client.execute("getfd", { fdname: "fd0" }));
      } finally {
        closeSync(fd);
      }
      await within(client.execute("closefd", { fdname: "fd0" }));
      // closefd on a name QEMU does not hold fails: the success above was QEMU closing the passed descriptor.
      expect((await rejection(client.execute("closefd", { fdname: "fd0" }))) as ExecuteError).toHaveProperty(
        "errorClass",
        "GenericError",
      );
    },
    QEMU_TEST_TIMEOUT_MS,
  );

  test(
    "validate: true rejects a wrong argument before QEMU sees it",
    async () => {
      const qemu = await startQemu();
      const outbound: QMPMessage[] = [];
      const client = await connected(qemu, { validate: true, onOutbound: (m) => outbound.push(m) });
      const error = await rejection(client.executeUntyped("blockdev-del", { "node-name": 42 }));
      expect(error).toBeInstanceOf(QMPValidationError);
      expect((error as QMPValidationError).code).toBe("QMP_ERR_VALIDATION");
      expect((error as QMPValidationError).problems[0]).toMatchObject({
        kind: "wrong-type",
        path: "node-name",
      });
      const typo = (await rejection(
        client.executeUntyped("blockdev-del", { nodename: "d" }),
      )) as QMPValidationError;
      expect(typo.message).toContain('"nodename"');
      expect(typo.message).toContain("node-name");
      expect(outbound.map((m) => m.execute)).toEqual(["qmp_capabilities", "query-qmp-schema"]);
      // Valid commands still go through, and the schema is fetched once per session.
      expect((await client.execute("query-status")).running).toBe(true);
      expect(outbound.filter((m) => m.execute === "query-qmp-schema")).toHaveLength(1);
    },
    QEMU_TEST_TIMEOUT_MS,
  );
});
