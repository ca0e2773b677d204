/**
 * Subsystems are built on first use (`static provides`, see src/vm/types.ts), and the VM answers as if it had built
 * them all at start: the same commands, listed in the same order, the same winner where two register one name,
 * hooks installed before the sibling they hook into is used.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { connect } from "@qmpkit/qmp";
import { runFixture } from "../../../qmp/test/reliability-helpers.ts";
import { createFakeQemu } from "../../src/index.ts";
import { ManualClock } from "../../src/vm/clock.ts";
import { Devices } from "../../src/vm/devices/devices.ts";
import { Guest } from "../../src/vm/guest.ts";
import { Hmp } from "../../src/vm/hmp.ts";
import { loadMachine, type Machine } from "../../src/vm/machine.ts";
import { Migration } from "../../src/vm/migration.ts";
import { Probe } from "../../src/vm/probe.ts";
import { Runstate } from "../../src/vm/runstate.ts";
import { SUBSYSTEMS } from "../../src/vm/subsystems.ts";
import type {
  SubsystemClass,
  SubsystemEntry,
  SubsystemProvides,
  VmApi,
  VmCommandContext,
  VmConfig,
} from "../../src/vm/types.ts";
import { Vm } from "../../src/vm/vm.ts";

const FIXTURE = join(import.meta.dir, "lazy-modules-fixture.ts");
/** Far above the child's run (~0.2 s): a bound on the wait, not a timing assertion. */
const CHILD_BOUND_MS = 30_000;

const CONFIG: VmConfig = {
  status: "running",
  version: { qemu: { major: 7, minor: 2, micro: 22 }, package: "" },
  name: undefined,
};
const CTX: VmCommandContext = {
  client: 1,
  command: "x",
  signal: new AbortController().signal,
  afterReply() {},
};

function makeVm(machine: Machine, subsystems?: readonly (SubsystemClass | SubsystemEntry)[]): Vm {
  return new Vm({
    machine,
    clock: new ManualClock(),
    config: CONFIG,
    host: { emit() {}, quit() {}, exit() {}, reportError() {} },
    ...(subsystems === undefined ? {} : { subsystems }),
  });
}

/**
 * What building every subsystem at start registers, as the VM did before it built them on first use: each QMP and
 * HMP registration with the subsystem whose constructor made it, in time order.
 */
function fullBuild(machine: Machine): { kind: "qmp" | "hmp"; name: string; by: SubsystemClass }[] {
  const registrations: { kind: "qmp" | "hmp"; name: string; by: SubsystemClass }[] = [];
  const built = new Map<SubsystemClass, object>();
  const building: SubsystemClass[] = [];
  const by = () => building.at(-1) as SubsystemClass;
  const api: VmApi = {
    machine,
    clock: new ManualClock(),
    config: CONFIG,
    warn() {},
    emit() {},
    command: (name) => void registrations.push({ kind: "qmp", name, by: by() }),
    hmp: (name, handler) => {
      registrations.push({ kind: "hmp", name, by: by() });
      get(Hmp).register(name, handler);
    },
    provideHmp() {},
    get,
    quit() {},
    exit() {},
    monitors: () => [],
    unimplemented: () => {
      throw new Error("unimplemented");
    },
  };
  function get<T extends object>(subsystem: SubsystemClass<T>): T {
    let instance = built.get(subsystem);
    if (instance === undefined) {
      building.push(subsystem);
      instance = new subsystem(api);
      building.pop();
      built.set(subsystem, instance);
    }
    return instance as T;
  }
  for (const entry of SUBSYSTEMS) get(entry.load());
  return registrations;
}

/** The names of the list's subsystems that `vm` has built. */
function builtNames(vm: Vm): string[] {
  return SUBSYSTEMS.filter((entry) => vm.built(entry) !== undefined).map((entry) => entry.name);
}

describe("a VM built on first use answers as a full build", () => {
  test("each entry of the list is its class's, with the declaration the class carries", () => {
    expect(SUBSYSTEMS.map((entry) => entry.load().name)).toEqual(SUBSYSTEMS.map((entry) => entry.name));
    // The VM finds a class's entry by this object (a class a sibling imports is met before its entry loads it).
    expect(SUBSYSTEMS.filter((entry) => entry.load().provides !== entry.provides)).toEqual([]);
    expect(new Set(SUBSYSTEMS.map((entry) => entry.provides)).size).toBe(SUBSYSTEMS.length);
    // Every lazily loaded entry shares one load function: a closure each is a function per entry made at start-up.
    const eager = ["Hmp", "Runstate"];
    const lazyLoads = SUBSYSTEMS.filter((entry) => !eager.includes(entry.name)).map((entry) => entry.load);
    expect(lazyLoads.length).toBe(SUBSYSTEMS.length - eager.length);
    expect(new Set(lazyLoads).size).toBe(1);
  });

  test("the list is in build order: each sibling a subsystem hooks into comes before it", () => {
    // The VM takes its own list as it is; a list a test passes is sorted (a hooked sibling first).
    const misplaced = SUBSYSTEMS.flatMap((entry, at) =>
      (entry.provides.hooks ?? [])
        .filter((hooked) => {
          const index = SUBSYSTEMS.findIndex((sibling) => sibling.provides === hooked);
          return index === -1 || index > at;
        })
        .map(() => entry.name),
    );
    expect(misplaced).toEqual([]);
  });

  for (const [name, qemuVersion] of [
    ["none", "7.2"],
    ["q35", "7.2"],
    ["none", "10.0"],
    ["q35", "10.0"],
  ] as const) {
    test(`${name} ${qemuVersion}: every registration is declared by its subsystem, and the commands are listed in a full build's order`, async () => {
      const machine = await loadMachine(name, qemuVersion);
      const registrations = fullBuild(machine);
      const undeclared = registrations
        .filter(({ kind, name, by }) => {
          const provides: SubsystemProvides = by.provides ?? {};
          return !(kind === "qmp" ? provides.commands : provides.hmp)?.includes(name);
        })
        .map(({ kind, name, by }) => `${by.name} ${kind} ${name}`);
      expect(undeclared).toEqual([]);
      const qmp = new Set(registrations.filter((r) => r.kind === "qmp").map((r) => r.name));
      expect([...makeVm(machine).commandNames()]).toEqual([...qmp]);
      // Looked up one by one on fresh VMs, each command is found (whatever was built before).
      const vm = makeVm(machine);
      expect([...qmp].reverse().filter((command) => vm.commandHandler(command) === undefined)).toEqual([]);
    });
  }

  test("a fresh VM has built nothing; query-status builds the run state only", async () => {
    const vm = makeVm(await loadMachine("none"));
    expect(builtNames(vm)).toEqual([]);
    expect(vm.commandHandler("query-status")).toBeFunction();
    expect(builtNames(vm)).toEqual(["Runstate"]);
    expect(vm.built(Runstate)).toBeDefined();
    expect(vm.commandHandler("query-frobnicate")).toBeUndefined();
    expect(builtNames(vm)).toEqual(["Runstate"]);
    // The run state's HMP commands wait for the registry, which takes them when a session first uses HMP.
    const hmp = vm.commandHandler("human-monitor-command");
    expect(builtNames(vm)).toEqual(["Hmp", "Runstate"]);
    expect(hmp?.({ "command-line": "info status" }, CTX)).toBe("VM status: running\r\n");
  });

  test("query-status evaluates the modules of the run state and the HMP registry only; another command, the rest", async () => {
    const { exitCode, stderr, report } = await runFixture(FIXTURE, [], CHILD_BOUND_MS);
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    // What every fake evaluates: the VM, its list of subsystems, and the two every session meets.
    const always = [
      "clock.ts",
      "hmp.ts",
      "machine.ts",
      "provides.ts",
      "return-members.ts",
      "runstate.ts",
      "subsystems.ts",
      "vm.ts",
    ];
    expect(report?.started).toEqual(always);
    expect(report?.["query-status"]).toEqual(always);
    // A command of another subsystem loads them all (one chunk in the compiled CLI): every module of src/vm.
    const everyModule = [...new Bun.Glob("**/*.ts").scanSync(join(import.meta.dir, "../../src/vm"))]
      .filter((path) => path !== "types.ts")
      .sort();
    expect(report?.["query-block"]).toEqual(everyModule);
  });

  test("a subsystem that hooks into a sibling is built with it: the guest hears of unplugs requested first", async () => {
    const vm = makeVm(await loadMachine("q35"));
    vm.commandHandler("device_add");
    expect(vm.built(Devices)).toBeDefined();
    expect(vm.built(Guest)).toBeDefined();
    expect(vm.built(Migration)).toBeUndefined();
  });

  test("an HMP command builds the subsystem that declares it, a recorded probe text included", async () => {
    await using fake = await createFakeQemu();
    await using client = await connect(fake.address);
    const hmp = (line: string) => client.executeUntyped("human-monitor-command", { "command-line": line });
    expect(await hmp("info status")).toBe("VM status: running\r\n");
    expect(await hmp("info sev")).toBe("SEV is not enabled\r\n");
    expect(await hmp("info balloon")).toBe("Error: No balloon device has been activated\r\n");
    expect(fake.errors).toEqual([]);
  });

  test("a recorded HMP text builds the probe that answers it", async () => {
    const vm = makeVm(await loadMachine("none"));
    const run = (line: string) => vm.commandHandler("human-monitor-command")?.({ "command-line": line }, CTX);
    expect(vm.built(Probe)).toBeUndefined();
    expect(run("info sev")).toBe("SEV is not enabled\r\n");
    expect(vm.built(Probe)).toBeDefined();
  });
});

describe("registration order", () => {
  const machine: Machine = {
    name: "none",
    qemuVersion: "7.2",
    schema: [],
    commands: [],
    profile: undefined,
    replies: new Map([
      ["query-recorded", { recorded: true }],
      ["query-shared", { recorded: true }],
    ]),
  };
  const log: string[] = [];
  class Early {
    static readonly provides: SubsystemProvides = { commands: ["query-shared", "query-early"] };
    constructor(vm: VmApi) {
      log.push("Early");
      vm.command("query-shared", () => "early");
      vm.command("query-early", () => "early");
    }
  }
  class Late {
    static readonly provides: SubsystemProvides = { commands: ["query-late", "query-shared"] };
    constructor(vm: VmApi) {
      log.push("Late");
      vm.command("query-late", () => "late");
      vm.command("query-shared", () => "late");
    }
  }
  class Hooking {
    static readonly provides: SubsystemProvides = { hooks: [Late.provides] };
    constructor(vm: VmApi) {
      log.push("Hooking");
      vm.get(Late);
    }
  }
  const LIST = [Early, Late, Hooking];

  test("a subsystem later in the list wins a shared command even when it was built first", () => {
    log.length = 0;
    const vm = makeVm(machine, LIST);
    expect(log).toEqual([]);
    expect(vm.commandHandler("query-late")?.({}, CTX)).toBe("late");
    expect(log).toEqual(["Late", "Hooking"]);
    expect(vm.commandHandler("query-shared")?.({}, CTX)).toBe("late");
    expect(log).toEqual(["Late", "Hooking", "Early"]);
    // Listed where a full build first registers each name, the recorded ones after the subsystems'.
    expect([...vm.commandNames()]).toEqual(["query-shared", "query-early", "query-late", "query-recorded"]);
    expect(vm.commandHandler("query-recorded")?.({}, CTX)).toEqual({ recorded: true });
  });

  test("a shared command builds every subsystem that declares it", () => {
    log.length = 0;
    const vm = makeVm(machine, LIST);
    expect(vm.commandHandler("query-shared")?.({}, CTX)).toBe("late");
    expect(log).toEqual(["Early", "Late", "Hooking"]);
  });

  test("a subsystem that declares nothing is built with the VM", () => {
    log.length = 0;
    class Plain {
      constructor(vm: VmApi) {
        log.push("Plain");
        vm.command("query-plain", () => "plain");
      }
    }
    const vm = makeVm(machine, [Early, Plain]);
    expect(log).toEqual(["Plain"]);
    expect([...vm.commandNames()]).toEqual(["query-shared", "query-early", "query-plain", "query-recorded"]);
  });
});
