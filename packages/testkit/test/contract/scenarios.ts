/**
 * The contract: one list of scenarios that QEMU 7.2 passes, run against the fake (contract-fake.test.ts) and
 * against a real QEMU (contract-qemu.test.ts). Each scenario gets a fresh target. Expected values are what real
 * QEMU says (see fixtures/qemu-7.2-transcript.jsonl), so any difference is a bug in the fake.
 */
import { expect, test } from "bun:test";
import {
  ConnectError,
  connect,
  ExecInterruptedError,
  ExecuteError,
  type QMPClient,
  Runstate,
  TimeoutError,
} from "@qmpkit/qmp";
import type { QemuRelease } from "../../src/index.ts";
import { within } from "../helpers.ts";

/** A QMP server under test. */
export interface ContractTarget {
  /** Which QEMU generation the target is (or stands in for). */
  readonly qemuVersion: QemuRelease;
  /** Where to connect. */
  readonly address: string;
  /** Makes the server stop answering (SIGSTOP for QEMU): later commands stay pending. */
  freeze(): Promise<void>;
  /** Kills the server outright (SIGKILL for QEMU): connections drop, nothing more is answered. */
  kill(): Promise<void>;
  /** Releases everything (idempotent). */
  dispose(): Promise<void>;
}

/** Starts a fresh target for one scenario. */
export type ConnectTarget = () => Promise<ContractTarget>;

const BOUND_MS = 10_000;

/**
 * Where the generations answer these scenarios differently, as recorded from each real QEMU: the scenarios read
 * their expectations from here instead of forking. (10.0 dropped `singlestep` from `query-status`.)
 */
export const GENERATION_FACTS = {
  "7.2": { major: 7, minor: 2, freshStatus: { status: "running", singlestep: false, running: true } },
  "10.0": { major: 10, minor: 0, freshStatus: { status: "running", running: true } },
} as const satisfies Record<QemuRelease, unknown>;

async function withClient(
  connectTarget: ConnectTarget,
  body: (client: QMPClient, target: ContractTarget) => Promise<void>,
  options: { oob?: boolean } = {},
): Promise<void> {
  const target = await connectTarget();
  let client: QMPClient | undefined;
  try {
    client = await within(connect(target.address, { oob: options.oob ?? true }), BOUND_MS, "connect");
    await body(client, target);
  } finally {
    await client?.disconnect().catch(() => {});
    await target.dispose();
  }
}

async function executeError(promise: Promise<unknown>): Promise<ExecuteError> {
  const error = await within(
    promise.then(
      () => undefined,
      (e: unknown) => e,
    ),
    BOUND_MS,
    "execute",
  );
  expect(error).toBeInstanceOf(ExecuteError);
  return error as ExecuteError;
}

/** Registers every contract scenario under the current `describe`. */
export function contractScenarios(connectTarget: ConnectTarget, version: QemuRelease = "7.2"): void {
  const facts = GENERATION_FACTS[version];
  test(`greeting: QEMU ${version} version triple, package, and the oob capability`, () =>
    withClient(connectTarget, async (client) => {
      const qmp = client.greeting?.QMP;
      expect(qmp?.version.qemu.major).toBe(facts.major);
      expect(qmp?.version.qemu.minor).toBe(facts.minor);
      expect(typeof qmp?.version.qemu.micro).toBe("number");
      expect(typeof qmp?.version.package).toBe("string");
      expect(qmp?.capabilities).toEqual(["oob"]);
      // query-version reports the same identity as the greeting.
      expect(await client.execute("query-version")).toEqual(qmp?.version as never);
    }));

  test("negotiation with oob: capabilities list it, and exec-oob runs an allow-oob command", () =>
    withClient(connectTarget, async (client) => {
      expect(client.capabilities).toEqual(["oob"]);
      expect(await client.executeUntyped("query-yank", undefined, { oob: true })).toEqual([
        { type: "chardev", id: "compat_monitor0" },
      ]);
      const err = await executeError(client.executeUntyped("query-status", undefined, { oob: true }));
      expect([err.errorClass, err.desc]).toEqual([
        "GenericError",
        "The command query-status does not support OOB",
      ]);
    }));

  // The server's own refusal of exec-oob without oob is in parser-differential.test.ts: the client never sends one.
  test("negotiation without oob: no capabilities; commands run in-band, exec-oob is refused before sending", () =>
    withClient(
      connectTarget,
      async (client) => {
        expect(client.capabilities).toEqual([]);
        expect(await client.executeUntyped("query-yank")).toEqual([
          { type: "chardev", id: "compat_monitor0" },
        ]);
        const refused = await client
          .executeUntyped("query-yank", undefined, { oob: true })
          .catch((e: unknown) => e);
        expect((refused as { code?: string }).code).toBe("QMP_ERR_OOB_NOT_ENABLED");
      },
      { oob: false },
    ));

  test("errors in negotiation mode: any command but qmp_capabilities is CommandNotFound", async () => {
    const target = await connectTarget();
    const client = await within(connect(target.address, { negotiate: false }), BOUND_MS, "connect");
    try {
      for (const name of ["query-status", "no-such-command"]) {
        const reply = await within(client.executeRaw({ execute: name, id: `n-${name}` }), BOUND_MS);
        expect(reply).toEqual({
          id: `n-${name}`,
          error: {
            class: "CommandNotFound",
            desc: "Expecting capabilities negotiation with 'qmp_capabilities'",
          },
        } as never);
      }
      const refused = await within(
        client.executeRaw({ execute: "qmp_capabilities", arguments: { enable: ["bogus"] }, id: "caps" }),
        BOUND_MS,
      );
      expect(refused).toEqual({
        id: "caps",
        error: { class: "GenericError", desc: "Parameter 'null' does not accept value 'bogus'" },
      } as never);
      expect(await within(client.executeRaw({ execute: "qmp_capabilities", id: "ok" }), BOUND_MS)).toEqual({
        return: {},
        id: "ok",
      } as never);
    } finally {
      await client.disconnect().catch(() => {});
      await target.dispose();
    }
  });

  test("errors in command mode: class and desc as QEMU words them", () =>
    withClient(connectTarget, async (client) => {
      const cases: [Promise<unknown>, string, string][] = [
        [
          client.executeUntyped("no-such-command"),
          "CommandNotFound",
          "The command no-such-command has not been found",
        ],
        [
          client.executeUntyped("qmp_capabilities"),
          "CommandNotFound",
          "Capabilities negotiation is already complete, command ignored",
        ],
        [
          client.executeUntyped("human-monitor-command"),
          "GenericError",
          "Parameter 'command-line' is missing",
        ],
        [client.executeUntyped("query-status", { foo: 1 }), "GenericError", "Parameter 'foo' is unexpected"],
        [
          client.executeUntyped("human-monitor-command", { "command-line": 5 }),
          "GenericError",
          "Invalid parameter type for 'command-line', expected: string",
        ],
      ];
      for (const [promise, errorClass, desc] of cases) {
        const err = await executeError(promise);
        expect([err.errorClass, err.desc]).toEqual([errorClass, desc]);
      }
    }));

  test("query-status: a fresh -machine none VM is running", () =>
    withClient(connectTarget, async (client) => {
      // Untyped: the client is typed for 7.2, whose query-status always has `singlestep`.
      expect(await client.executeUntyped("query-status")).toEqual(facts.freshStatus);
    }));

  test("query-commands lists the basics", () =>
    withClient(connectTarget, async (client) => {
      const names = new Set((await client.execute("query-commands")).map((c) => c.name));
      for (const name of ["qmp_capabilities", "query-status", "query-commands", "stop", "cont", "quit"]) {
        expect(names.has(name)).toBe(true);
      }
      expect(names.size).toBeGreaterThan(200);
    }));

  test("stop/cont: STOP and RESUME are delivered before the command resolves", () =>
    withClient(connectTarget, async (client) => {
      using listener = client.listen({ names: ["STOP", "RESUME"] });
      await within(client.execute("stop"), BOUND_MS);
      // Checked synchronously after the await: the event must already be there.
      expect(listener.empty()).toBe(false);
      expect((await listener.get()).event).toBe("STOP");
      expect((await client.execute("query-status")).status).toBe("paused");
      await within(client.execute("stop"), BOUND_MS);
      await within(client.execute("cont"), BOUND_MS);
      expect(listener.empty()).toBe(false);
      // The second stop sent no event: the next one is RESUME.
      const resume = await listener.get();
      expect(resume.event).toBe("RESUME");
      expect(resume.timestamp.seconds).toBeGreaterThan(1_600_000_000);
      expect(resume.timestamp.microseconds).toBeLessThan(1_000_000);
      expect(listener.empty()).toBe(true);
    }));

  test("human-monitor-command: info status follows the run state, unknown commands are text", () =>
    withClient(connectTarget, async (client) => {
      const hmp = (line: string) => client.execute("human-monitor-command", { "command-line": line });
      expect(await hmp("info status")).toBe("VM status: running\r\n");
      await client.execute("stop");
      expect(await hmp("info status")).toBe("VM status: paused\r\n");
      expect(await hmp("no-such-hmp-command")).toBe("unknown command: 'no-such-hmp-command'\r\n");
      expect(await hmp("")).toBe("");
    }));

  test("1,000 concurrent executes each resolve with their own reply", () =>
    withClient(connectTarget, async (client) => {
      const kinds = ["query-status", "query-kvm", "query-name", "query-version"] as const;
      const expected: Record<(typeof kinds)[number], unknown> = {
        "query-status": await client.execute("query-status"),
        "query-kvm": await client.execute("query-kvm"),
        "query-name": await client.execute("query-name"),
        "query-version": await client.execute("query-version"),
      };
      const calls = Array.from({ length: 1000 }, (_, i) => kinds[i % kinds.length] as (typeof kinds)[number]);
      const results = await within(Promise.all(calls.map((name) => client.executeUntyped(name))), BOUND_MS);
      results.forEach((result, i) => {
        expect(result).toEqual(expected[calls[i] as (typeof kinds)[number]]);
      });
      // Raw calls with caller ids: each reply carries its own id back.
      const raw = await within(
        Promise.all(
          Array.from({ length: 100 }, (_, i) => client.executeRaw({ execute: "query-kvm", id: `r${i}` })),
        ),
        BOUND_MS,
      );
      raw.forEach((reply, i) => {
        expect(reply.id).toBe(`r${i}`);
      });
    }));

  test("quit: SHUTDOWN arrives before the reply, then the server closes without an error", () =>
    withClient(connectTarget, async (client) => {
      using listener = client.listen({ names: ["SHUTDOWN"] });
      expect(await within(client.execute("quit"), BOUND_MS)).toEqual({});
      expect(listener.empty()).toBe(false);
      const shutdown = await listener.get();
      expect(shutdown.data).toEqual({ guest: false, reason: "host-qmp-quit" });
      await within(client.disconnect(), BOUND_MS, "disconnect after quit");
      expect(client.runstate).toBe(Runstate.IDLE);
    }));

  test("killed mid-command: pending calls reject with ExecInterruptedError, disconnect() rethrows the cause", () =>
    withClient(connectTarget, async (client, target) => {
      await target.freeze();
      const pending = client.execute("human-monitor-command", { "command-line": "info status" });
      const outcome = pending.then(
        () => undefined,
        (e: unknown) => e,
      );
      await target.kill();
      const error = await within(outcome, BOUND_MS, "the pending command");
      expect(error).toBeInstanceOf(ExecInterruptedError);
      const cause = (error as ExecInterruptedError).cause;
      expect(cause).toBeInstanceOf(Error);
      const thrown = await within(
        client.disconnect().then(
          () => undefined,
          (e: unknown) => e,
        ),
        BOUND_MS,
        "disconnect",
      );
      expect(thrown).toBe(cause);
      expect(client.runstate).toBe(Runstate.IDLE);
    }));

  test("one client at a time: a second client gets no greeting until the first leaves", async () => {
    const target = await connectTarget();
    try {
      const first = await within(connect(target.address), BOUND_MS);
      const second = connect(target.address, { greetingTimeoutMs: 300 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const error = await within(second, BOUND_MS);
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).cause).toBeInstanceOf(TimeoutError);
      await first.disconnect();
      const third = await within(connect(target.address, { greetingTimeoutMs: 5000 }), BOUND_MS);
      expect((await third.execute("query-status")).status).toBe("running");
      await third.disconnect();
    } finally {
      await target.dispose();
    }
  });
}
