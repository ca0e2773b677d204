/**
 * The registries flow's commands answered by the VM model with the devices model's part played through the
 * hooks it will call (a virtio-balloon and a VGA from the command line attach to Balloon and Display; `qom-list
 * /objects` is the container's children as Objects lists them): every reply and event equals QEMU 7.2's
 * recording. Until the devices model builds the command line's devices, this is what proves those steps.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QMPCommandError } from "../../src/errors.ts";
import { RawJson } from "../../src/qjson.ts";
import type { JsonObject } from "../../src/types.ts";
import { ManualClock } from "../../src/vm/clock.ts";
import { Guest } from "../../src/vm/guest.ts";
import { loadMachine } from "../../src/vm/machine.ts";
import { Balloon } from "../../src/vm/registries/balloon.ts";
import { Display } from "../../src/vm/registries/display.ts";
import type { VmCommandContext } from "../../src/vm/types.ts";
import { Vm } from "../../src/vm/vm.ts";
import { registries } from "../contract/flows/registries.ts";

const SOCKET = "/run/qmpkit-test/qmp.sock";

async function fixture(version: string): Promise<Map<number, JsonObject[]>> {
  const path = join(import.meta.dir, `../../fixtures/flows/qemu-${version}/q35/registries.jsonl`);
  const steps = new Map<number, JsonObject[]>();
  for (const line of (await Bun.file(path).text()).trim().split("\n")) {
    const step = JSON.parse(line) as { step: number; recv?: JsonObject[] };
    if (step.recv !== undefined) steps.set(step.step, step.recv);
  }
  return steps;
}

/** The flow's normalisation for this test's few varying fields. */
function normalised(value: unknown, dir: string, command: string): unknown {
  // What the model wrote in QEMU's key order arrives as RawJson: compare its values.
  const plain = JSON.stringify(value, (_key, v) => (v instanceof RawJson ? JSON.parse(v.text) : v));
  const text = plain.replaceAll(dir, "$DIR").replaceAll(SOCKET, "$QMP_SOCKET");
  return JSON.parse(text, (key, v) => {
    if (key === "timestamp") return "<varies: timestamp>";
    if (key === "thread-id" && command === "query-iothreads") return "<varies: thread-id>";
    if (key === "fd" && (command === "add-fd" || command === "query-fdsets")) return "<varies: fd>";
    return v;
  });
}

for (const version of ["7.2", "10.0"] as const) {
  test(`with the devices played through hooks, the registries flow answers as QEMU ${version}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "qmpkit-registries-hooks-"));
    try {
      await registries.setup?.({ dir });
      const events: JsonObject[] = [];
      const vm = new Vm({
        machine: await loadMachine("q35", version),
        clock: new ManualClock(),
        config: {
          status: "prelaunch",
          version: { qemu: { major: 7, minor: 2, micro: 22 }, package: "" },
          name: undefined,
        },
        host: {
          emit: (event, data) => events.push(data === undefined ? { event } : { event, data }),
          quit: () => {},
          exit: () => {},
          reportError: () => {},
          monitors: () => [{ label: "compat_monitor0", filename: `unix:${SOCKET},server=on` }],
        },
      });
      vm.get(Balloon).attach("balloon0");
      vm.get(Display).attach("video0");
      const recorded = await fixture(version);
      const steps = registries.steps({ dir });
      for (const [index, step] of steps.entries()) {
        if (step.kind !== "command") continue;
        const command = step.execute;
        const args = (step.arguments ?? {}) as JsonObject;
        let fdPassed = step.fdOf !== undefined;
        const ctx: VmCommandContext = {
          client: 1,
          command,
          signal: new AbortController().signal,
          afterReply: (fn) => fn(),
          takeFd: () => {
            const passed = fdPassed;
            fdPassed = false;
            return passed;
          },
        };
        let answer: JsonObject;
        // An unknown qom-type is the schema's refusal, before any subsystem sees it.
        if (args["qom-type"] === "no-such-type") continue;
        // The QOM tree does not list /objects' children yet (see fake-pending.ts).
        if (command === "qom-list") continue;
        try {
          const handler = vm.commandHandler(command);
          if (handler === undefined) throw new Error(`the model has no ${command}`);
          const value = await handler(args, ctx);
          answer = { return: (value ?? {}) as JsonObject };
        } catch (error) {
          if (!(error instanceof QMPCommandError)) throw error;
          answer = { error: { class: error.errorClass, desc: error.desc } };
        }
        const expected = (recorded.get(index + 2) ?? []).map((message) => {
          const { id: _id, ...rest } = message;
          return normalised(rest, dir, command);
        });
        const got = [...events.splice(0), answer].map((message) =>
          normalised({ ...message, ...("event" in message ? { timestamp: 0 } : {}) }, dir, command),
        );
        // Key order is the wire's business (checked by the flow); here the values and the event order.
        expect({ step: index + 2, command, recv: got }).toEqual({ step: index + 2, command, recv: expected });
      }
      // The screendump after the firmware ran: VGA's text mode, as a binary PPM.
      const screen = await Bun.file(join(dir, "screen.ppm")).bytes();
      expect(new TextDecoder().decode(screen.subarray(0, 15))).toBe("P6\n720 400\n255\n");
      expect(screen.length).toBe(15 + 720 * 400 * 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("the guest's balloon driver moves `actual` to the target with BALLOON_CHANGE, once per change", async () => {
  const events: JsonObject[] = [];
  const vm = new Vm({
    machine: await loadMachine("q35"),
    clock: new ManualClock(),
    config: {
      status: "running",
      version: { qemu: { major: 7, minor: 2, micro: 22 }, package: "" },
      name: undefined,
    },
    host: {
      emit: (event, data) => events.push({ event, data }),
      quit: () => {},
      exit: () => {},
      reportError: () => {},
    },
  });
  const ctx: VmCommandContext = {
    client: 1,
    command: "",
    signal: new AbortController().signal,
    afterReply: (fn) => fn(),
  };
  const run = async (command: string, args: JsonObject = {}) => await vm.commandHandler(command)?.(args, ctx);
  const guest = vm.get(Guest);
  expect(() => guest.balloon()).toThrow("no balloon device");
  vm.get(Balloon).attach("balloon0");
  await run("balloon", { value: 128 * 1024 * 1024 });
  // No guest driver has acted yet: QEMU keeps reporting the whole RAM.
  expect(await run("query-balloon")).toEqual({ actual: 256 * 1024 * 1024 });
  guest.balloon();
  guest.balloon();
  expect(await run("query-balloon")).toEqual({ actual: 128 * 1024 * 1024 });
  guest.balloon(200 * 1024 * 1024);
  expect(events).toEqual([
    { event: "BALLOON_CHANGE", data: { actual: 128 * 1024 * 1024 } },
    { event: "BALLOON_CHANGE", data: { actual: 200 * 1024 * 1024 } },
  ]);
});
