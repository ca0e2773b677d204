/**
 * Runstate rules recorded from real QEMU 7.2 q35 (the runstate flows check the same against QEMU live): resets of
 * a stopped VM, -no-reboot/-no-shutdown, -incoming, the firmware's own resets after a host reset, and the guest
 * handle a test uses to play the guest OS.
 */
import { expect, test } from "bun:test";
import type { ExecuteError } from "@qmpkit/qmp";
import type { FakeQemuOptions } from "../../src/index.ts";
import { fakeSession } from "./fake-session.ts";

async function setup(options: FakeQemuOptions) {
  const { fake, client } = await fakeSession({ machine: "q35", clock: "manual", ...options });
  const tap = client.listen();
  // Every event so far, in order, as `NAME` or `NAME:guest|host:reason` or `NAME:action`.
  const events = () => tap.clear().map(describe);
  const status = async () => (await client.execute("query-status")).status;
  return { fake, client, events, status };
}

function describe(event: { event: string; data?: unknown }): string {
  const data = event.data as { guest?: boolean; reason?: string; action?: string } | undefined;
  if (data?.reason !== undefined) return `${event.event}:${data.guest ? "guest" : "host"}:${data.reason}`;
  if (data?.action !== undefined) return `${event.event}:${data.action}`;
  return event.event;
}

test("a reset puts a stopped VM into prelaunch; HMP info status names the state in brackets", async () => {
  const { client, status } = await setup({});
  await client.execute("stop");
  await client.execute("system_reset");
  expect(await status()).toBe("prelaunch");
  const text = await client.executeUntyped("human-monitor-command", { "command-line": "info status" });
  expect(text).toBe("VM status: paused (prelaunch)\r\n");
});

test("q35 7.2: the firmware resets the machine twice once it runs after a host reset", async () => {
  const { fake, client, events } = await setup({});
  await client.execute("system_reset");
  await fake.clock.advance(200);
  await client.execute("query-status"); // the events sent before this reply have arrived
  expect(events()).toEqual([
    "RESET:host:host-qmp-system-reset",
    "RESET:guest:guest-reset",
    "RESET:guest:guest-reset",
  ]);
});

test("q35 10.0: one firmware reset; -machine none: none", async () => {
  for (const [options, firmware] of [
    [{ qemuVersion: "10.0" }, ["RESET:guest:guest-reset"]],
    [{ machine: "none" }, []],
  ] as const) {
    const { fake, client, events } = await setup(options);
    await client.execute("system_reset");
    await fake.clock.advance(200);
    await client.execute("query-status");
    expect(events()).toEqual(["RESET:host:host-qmp-system-reset", ...firmware]);
  }
});

test("the firmware's resets wait while the VM is stopped, and never come after a reset from -S", async () => {
  const paused = await setup({});
  await paused.client.execute("system_reset");
  await paused.client.execute("stop");
  await paused.fake.clock.advance(500);
  await paused.client.execute("cont");
  await paused.fake.clock.advance(200);
  await paused.client.execute("query-status");
  expect(paused.events()).toEqual([
    "RESET:host:host-qmp-system-reset",
    "STOP",
    "RESUME",
    "RESET:guest:guest-reset",
    "RESET:guest:guest-reset",
  ]);

  // Started with -S, the firmware never ran: a reset before the first cont is answered by nothing.
  const fresh = await setup({ status: "prelaunch" });
  await fresh.client.execute("system_reset");
  await fresh.client.execute("cont");
  await fresh.fake.clock.advance(500);
  await fresh.client.execute("query-status");
  expect(fresh.events()).toEqual(["RESET:host:host-qmp-system-reset", "RESUME"]);
});

test("-no-reboot -no-shutdown: a reset is a shutdown that stops the VM in `shutdown`; cont needs a reset", async () => {
  const { client, events, status } = await setup({ noReboot: true, noShutdown: true });
  await client.execute("system_reset");
  expect(events()).toEqual(["SHUTDOWN:host:host-qmp-system-reset", "STOP"]);
  expect(await status()).toBe("shutdown");
  const error = (await client.execute("cont").catch((e: unknown) => e)) as ExecuteError;
  expect(error.desc).toBe("Resetting the Virtual Machine is required");
});

test("-no-reboot without -no-shutdown: a reset ends QEMU after the reply", async () => {
  const { fake, client, events } = await setup({ noReboot: true });
  await client.execute("system_reset");
  expect(events()).toEqual(["SHUTDOWN:host:host-qmp-system-reset"]);
  await fake.exited;
});

test("-incoming defer: inmigrate ignores cont and stop; a reset keeps it", async () => {
  const { client, events, status } = await setup({ incoming: "defer" });
  expect(await status()).toBe("inmigrate");
  await client.execute("cont");
  await client.execute("stop");
  await client.execute("system_reset");
  expect(await status()).toBe("inmigrate");
  expect(events()).toEqual(["RESET:host:host-qmp-system-reset"]);
});

test("the guest reboots, and under -no-reboot its reboot is a shutdown", async () => {
  const { fake, client, events, status } = await setup({});
  fake.guest.reboot();
  await client.execute("query-status");
  expect(events()).toEqual(["RESET:guest:guest-reset"]);
  expect(await status()).toBe("running");

  const strict = await setup({ noReboot: true, noShutdown: true });
  strict.fake.guest.reboot();
  expect(await strict.status()).toBe("shutdown");
  expect(strict.events()).toEqual(["SHUTDOWN:guest:guest-reset", "STOP"]);
});

test("the guest shuts down: paused in `shutdown` under -no-shutdown, else QEMU exits", async () => {
  const kept = await setup({ noShutdown: true });
  kept.fake.guest.shutdown();
  expect(await kept.status()).toBe("shutdown");
  expect(kept.events()).toEqual(["SHUTDOWN:guest:guest-shutdown", "STOP"]);

  const gone = await setup({});
  gone.fake.guest.shutdown();
  await gone.fake.exited;
});

test("the guest panics: pause under -no-shutdown, poweroff and exit otherwise", async () => {
  const kept = await setup({ noShutdown: true });
  kept.fake.guest.panic();
  expect(await kept.status()).toBe("guest-panicked");
  expect(kept.events()).toEqual(["GUEST_PANICKED:pause", "STOP"]);

  const gone = await setup({});
  const closed = gone.client.listen({ names: ["SHUTDOWN"] });
  gone.fake.guest.panic();
  expect((await closed.get()).data).toEqual({ guest: true, reason: "guest-panic" });
  await gone.fake.exited;
});

test("a guest that answers the power button shuts down after POWERDOWN", async () => {
  const { fake, client, events, status } = await setup({ noShutdown: true });
  await client.execute("system_powerdown");
  await fake.clock.advance(1_000);
  expect(await status()).toBe("running"); // nobody answers by default, as QEMU with no guest OS
  fake.guest.answerPowerdown();
  await client.execute("system_powerdown");
  await fake.clock.advance(1_000);
  expect(await status()).toBe("shutdown");
  expect(events()).toEqual(["POWERDOWN", "POWERDOWN", "SHUTDOWN:guest:guest-shutdown", "STOP"]);
});

test("a stopped guest can do nothing: the test is told why", async () => {
  const { fake } = await setup({ status: "paused" });
  expect(() => fake.guest.reboot()).toThrow(
    "The guest cannot reboot: its CPUs are not running (status paused)",
  );
});
