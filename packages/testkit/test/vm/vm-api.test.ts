/**
 * The interface subsystems are written against (`VmApi`, see src/vm/README.md): command and HMP registration,
 * sibling lookup, synchronous events, recorded replies of the machine profile.
 */
import { expect, test } from "bun:test";
import { connect } from "@qmpkit/qmp";
import { QMPCommandError } from "../../src/errors.ts";
import { createFakeQemu } from "../../src/index.ts";
import { ManualClock } from "../../src/vm/clock.ts";
import { Hmp } from "../../src/vm/hmp.ts";
import type { Machine } from "../../src/vm/machine.ts";
import type { VmApi, VmCommandContext } from "../../src/vm/types.ts";
import { Vm } from "../../src/vm/vm.ts";
import { RawPeer, within } from "../helpers.ts";

const PROFILE: Machine = {
  name: "none",
  qemuVersion: "7.2",
  schema: [],
  commands: [],
  profile: undefined,
  replies: new Map([["query-target", { arch: "x86_64" }]]),
};
const CTX: VmCommandContext = {
  client: 1,
  command: "x",
  signal: new AbortController().signal,
  afterReply() {},
};

function makeVm(subsystems: NonNullable<ConstructorParameters<typeof Vm>[0]["subsystems"]>) {
  const events: [string, unknown][] = [];
  const errors: string[] = [];
  const vm = new Vm({
    machine: PROFILE,
    clock: new ManualClock(),
    config: {
      status: "running",
      version: { qemu: { major: 7, minor: 2, micro: 22 }, package: "" },
      name: undefined,
    },
    host: {
      emit: (e, d) => events.push([e, d]),
      quit: () => {},
      exit: () => {},
      reportError: (_c, _k, m) => errors.push(m),
    },
    subsystems,
  });
  return { vm, events, errors };
}

class Lower {
  nodes = ["n0"];
  constructor(vm: VmApi) {
    vm.command("list-nodes", () => this.nodes);
  }
}

class Upper {
  readonly #vm: VmApi;
  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("use-node", (args) => {
      if (!vm.get(Lower).nodes.includes(args.node as string))
        throw new QMPCommandError("GenericError", "no node");
      vm.emit("USED", { node: args.node });
      return {};
    });
    vm.hmp("info used", () => "used\r\n");
  }
  get vm(): VmApi {
    return this.#vm;
  }
}

test("a subsystem registers commands and finds its siblings whatever the build order", () => {
  const { vm, events } = makeVm([Upper, Hmp, Lower]);
  expect(vm.commandHandler("use-node")?.({ node: "n0" }, CTX)).toEqual({});
  expect(events).toEqual([["USED", { node: "n0" }]]);
  expect(() => vm.commandHandler("use-node")?.({ node: "n9" }, CTX)).toThrow("no node");
  expect(vm.get(Lower)).toBe(vm.get(Upper).vm.get(Lower));
  expect(vm.commandHandler("human-monitor-command")?.({ "command-line": "info used" }, CTX)).toBe("used\r\n");
});

test("a subsystem that needs itself while being built is an error naming it", () => {
  class Selfish {
    constructor(vm: VmApi) {
      vm.get(Selfish);
    }
  }
  expect(() => makeVm([Selfish])).toThrow("Selfish needs itself");
});

test("recorded replies of the profile are served unless a subsystem models the command", () => {
  const { vm } = makeVm([Lower]);
  expect(vm.commandHandler("query-target")?.({}, CTX)).toEqual({ arch: "x86_64" });
  class Target {
    constructor(vm: VmApi) {
      vm.command("query-target", () => ({ arch: "modelled" }));
    }
  }
  expect(makeVm([Target]).vm.commandHandler("query-target")?.({}, CTX)).toEqual({ arch: "modelled" });
});

test("unimplemented reports to fake.errors and refuses with a GenericError", () => {
  const { vm, errors } = makeVm([]);
  expect(() => vm.unimplemented(CTX, "frobnicate")).toThrow("qmpkit fake: frobnicate is not implemented");
  expect(errors).toEqual(["frobnicate is not implemented by the fake"]);
});

// QEMU writes STOP before stop's return: an event emitted by a command precedes its reply on the wire, and
// reaches the other negotiated clients too.
test("an event emitted by a VM command reaches every negotiated client, before that command's reply", async () => {
  await using fake = await createFakeQemu({ multiClient: true });
  await using watcher = await connect(fake.address);
  const stops = watcher.listen({ names: ["STOP"] });
  const actor = await RawPeer.connect(fake.address);
  try {
    await actor.negotiate();
    actor.sendJson({ execute: "stop", id: 1 });
    const [, , event, reply] = await actor.waitLines(4);
    expect(JSON.parse(event as string).event).toBe("STOP");
    expect(reply).toBe('{"return": {}, "id": 1}\r\n');
    expect((await within(stops.get(), 5000, "STOP at the watcher")).event).toBe("STOP");
  } finally {
    actor.end();
  }
});
