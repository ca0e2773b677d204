#!/usr/bin/env bun
/**
 * Records a machine profile from a real QEMU: every reply a VM manager's capability probe and start-up read,
 * the QOM tree with every property value, and the type sweeps (`device-list-properties` and
 * `qom-list-properties` for every QOM type). Errors are replies too and are kept as QEMU wrote them.
 *
 *   bun run --cwd packages/testkit record-profile                      # QEMU on PATH, both machines (~1 min)
 *   bun packages/testkit/scripts/record-profile.ts --machine q35
 *   bun packages/testkit/scripts/record-profile.ts \
 *     --qemu "chroot /srv/trixie qemu-system-x86_64" --socket-dir /srv/trixie/tmp   # see profiles/README.md
 *
 * Writes profiles/qemu-<major.minor>/<machine>.qprof and updates profiles/qemu-<major.minor>/manifest.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  PROFILE_FORMAT,
  type ProfileData,
  SOCKET_PLACEHOLDER,
  UNKNOWN_NAMES,
} from "../src/profiles/format.ts";
import { requestKey } from "../src/profiles/key.ts";
import { packProfile } from "../src/profiles/pack.ts";
import { readProfileRequests } from "./lib/profile-requests.ts";
import { QemuGoneError, type RawMessage, type RawQMP, RecordingQemu, stripId } from "./lib/raw-qmp.ts";

/** The machines, as a VM manager starts them (`-S`: libvirt starts paused and reads the QOM tree before `cont`). */
const MACHINE_ARGS: Record<string, { args: string[]; startPaused: boolean }> = {
  none: {
    args: ["-machine", "none", "-nodefaults", "-no-user-config", "-display", "none"],
    startPaused: false,
  },
  q35: {
    args: [
      "-machine",
      "q35,accel=tcg",
      "-m",
      "256",
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-S",
    ],
    startPaused: true,
  },
};

const PROFILES = join(import.meta.dir, "..", "profiles");

const { values } = parseArgs({
  options: {
    qemu: { type: "string", default: "qemu-system-x86_64" },
    "socket-dir": { type: "string", default: tmpdir() },
    machine: { type: "string", multiple: true },
    out: { type: "string" },
  },
});
const command = (values.qemu as string).split(/\s+/).filter((word) => word.length > 0);
const socketDir = resolve(values["socket-dir"] as string);
const machines = values.machine ?? Object.keys(MACHINE_ARGS);

/**
 * Replies that vary between runs even when two recordings happen to agree: thread ids, the guest's clock,
 * hash-table order in `info mtree`, timing counters.
 */
const KNOWN_VOLATILE =
  /^query-cpus-fast$|^query-iothreads$|^query-stats |^x-query-(jit|opcount|profile)$|"info (cpus|mtree|jit|opcount|profile|iothreads)"|"property":"(rtc-time|date)"/;

type Request = { command: string; args?: unknown };

/** Collects replies for one machine; restarts QEMU when a request kills it, so one crash costs one reply. */
class Recorder {
  readonly pool: string[] = [];
  readonly #poolIndex = new Map<string, number>();
  readonly replies: Record<string, number> = {};
  readonly crashes: Record<string, string> = {};
  /** Requests in the order first recorded, for the second pass that finds run-to-run differences. */
  readonly log: Request[] = [];
  #session: { qemu: RecordingQemu; peer: RawQMP } | undefined;
  greeting: RawMessage | undefined;
  requests = 0;
  /**
   * Sent (not recorded) to each new QEMU after a restart. `qom-list-types` loads every QOM module, and until
   * then a module's types are unknown (`device-list-properties` says DeviceNotFound instead of what it says
   * once a manager has listed the types, as libvirt does first): a QEMU restarted after a crash must be in the
   * same state as the one it replaces.
   */
  prelude: Request[] = [];

  constructor(readonly machineArgs: readonly string[]) {}

  async #peer(): Promise<RawQMP> {
    if (this.#session === undefined || this.#session.peer.closed) {
      if (this.#session) await this.#session.qemu.stop();
      const started = await RecordingQemu.start({ command, args: this.machineArgs, socketDir });
      this.#session = started;
      this.greeting ??= started.greeting;
      for (const request of this.prelude) await started.peer.execute(request.command, request.args);
    }
    return this.#session.peer;
  }

  /** A fresh QEMU for what follows (the type sweeps instantiate objects; the QOM tree must not see that). */
  async restart(): Promise<void> {
    if (this.#session) await this.#session.qemu.stop();
    this.#session = undefined;
  }

  /** Runs the request once per key and returns QEMU's reply (parsed, for the recorder's own decisions). */
  async record(request: Request): Promise<Record<string, unknown> | undefined> {
    const key = requestKey(request.command, request.args);
    const known = this.replies[key];
    if (known !== undefined) return JSON.parse(this.pool[known] as string);
    if (key in this.crashes) return undefined;
    const peer = await this.#peer();
    let reply: RawMessage;
    try {
      this.requests++;
      reply = await peer.execute(request.command, request.args);
    } catch (error) {
      if (!(error instanceof QemuGoneError)) throw error;
      const session = this.#session;
      this.#session = undefined;
      await session?.qemu.stop();
      const stderr = (await session?.qemu.stderr()) ?? "";
      this.crashes[key] = stderr.slice(-500);
      console.warn(`QEMU died on ${key}: ${stderr.trim().split("\n").at(-1) ?? ""}`);
      return undefined;
    }
    this.log.push(request);
    const text = this.#normalise(stripId(reply));
    let index = this.#poolIndex.get(text);
    if (index === undefined) {
      index = this.pool.push(text) - 1;
      this.#poolIndex.set(text, index);
    }
    this.replies[key] = index;
    return JSON.parse(text);
  }

  /** The session's own socket path is an accident of recording: a placeholder stands for it. */
  #normalise(text: string): string {
    const path = this.#session?.qemu.socketPath;
    return path === undefined ? text : text.replaceAll(path, SOCKET_PLACEHOLDER);
  }

  /**
   * Sends `requests` again to a fresh QEMU and returns the keys whose reply differs from the recording: thread
   * ids, clocks, hash-table order. Tests that compare a live QEMU with the profile skip these.
   */
  async findVolatile(requests: readonly Request[]): Promise<string[]> {
    await this.restart();
    const volatile: string[] = [];
    for (const request of requests) {
      const key = requestKey(request.command, request.args);
      const index = this.replies[key];
      if (index === undefined) continue;
      const peer = await this.#peer();
      const text = this.#normalise(stripId(await peer.execute(request.command, request.args)));
      if (text !== this.pool[index]) volatile.push(key);
    }
    return volatile;
  }

  async recordAll(requests: Iterable<Request>): Promise<void> {
    for (const request of requests) await this.record(request);
  }

  async stop(): Promise<void> {
    await this.restart();
  }
}

type SchemaEntry = {
  name: string;
  "meta-type": string;
  "arg-type"?: string;
  members?: { default?: unknown }[];
};

/** Query commands that need no arguments: a VM manager may read any of them at start-up. */
function argumentlessQueries(schema: SchemaEntry[], commands: string[]): string[] {
  const byName = new Map(schema.map((entry) => [entry.name, entry]));
  return commands.filter((name) => {
    if (!/^(x-)?query-/.test(name) || name === "query-qmp-schema") return false;
    const command = byName.get(name) as (SchemaEntry & { "arg-type": string }) | undefined;
    const argType = command ? byName.get(command["arg-type"]) : undefined;
    return (argType?.members ?? []).every((member) => "default" in member);
  });
}

/** `help info` lines are `info NAME [ARGS] -- TEXT`. */
function infoSubcommands(helpInfo: string): string[] {
  return [...helpInfo.matchAll(/^info (\S+)/gm)].map((match) => match[1] as string);
}

function returned<T>(reply: Record<string, unknown> | undefined): T | undefined {
  return reply && "return" in reply ? (reply.return as T) : undefined;
}

/** Every QOM path from `/` along `child<…>` properties, each listed, and every property read. */
async function recordQomTree(recorder: Recorder): Promise<number> {
  const queue = ["/"];
  let objects = 0;
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    objects++;
    const properties = returned<{ name: string; type: string }[]>(
      await recorder.record({ command: "qom-list", args: { path } }),
    );
    for (const property of properties ?? []) {
      await recorder.record({ command: "qom-get", args: { path, property: property.name } });
      if (property.type.startsWith("child<"))
        queue.push(path === "/" ? `/${property.name}` : `${path}/${property.name}`);
    }
  }
  return objects;
}

async function recordMachine(
  machine: string,
): Promise<{ version: string; data: ProfileData; stats: Record<string, number> }> {
  const spec = MACHINE_ARGS[machine];
  if (!spec) throw new Error(`unknown machine ${machine}; known: ${Object.keys(MACHINE_ARGS).join(", ")}`);
  const recorder = new Recorder(spec.args);
  const started = performance.now();
  try {
    // The state a manager reads first, on an untouched QEMU.
    const commands = (
      returned<{ name: string }[]>(await recorder.record({ command: "query-commands" })) ?? []
    ).map((c) => c.name);
    const schema = returned<SchemaEntry[]>(await recorder.record({ command: "query-qmp-schema" })) ?? [];
    const queries = argumentlessQueries(schema, commands);
    await recorder.recordAll(queries.map((name) => ({ command: name })));
    const hmp = (line: string): Request => ({
      command: "human-monitor-command",
      args: { "command-line": line },
    });
    const helpInfo = returned<string>(await recorder.record(hmp("help info"))) ?? "";
    await recorder.record(hmp("help"));
    await recorder.recordAll(infoSubcommands(helpInfo).map((sub) => hmp(`info ${sub}`)));
    const objects = await recordQomTree(recorder);
    await recorder.recordAll([
      { command: "qom-list", args: { path: UNKNOWN_NAMES.path } },
      { command: "qom-get", args: { path: UNKNOWN_NAMES.path, property: "type" } },
      { command: "qom-get", args: { path: "/machine", property: UNKNOWN_NAMES.name } },
    ]);

    // Constant probe data with arguments.
    const options = returned<{ option: string }[]>(
      await recorder.record({ command: "query-command-line-options" }),
    );
    await recorder.recordAll(
      [...(options ?? []).map((o) => o.option), UNKNOWN_NAMES.name].map((option) => ({
        command: "query-command-line-options",
        args: { option },
      })),
    );
    await recorder.recordAll([
      { command: "query-named-block-nodes", args: { flat: true } },
      { command: "query-named-block-nodes", args: { flat: false } },
      { command: "query-stats", args: { target: "vm" } },
      { command: "query-stats", args: { target: "vcpu" } },
    ]);
    const machines = returned<{ name: string; "default-cpu-type"?: string }[]>(
      await recorder.record({ command: "query-machines" }),
    );
    const cpuModels = new Set(["host", "max", "base", "qemu64", UNKNOWN_NAMES.name]);
    for (const m of machines ?? []) {
      const type = m["default-cpu-type"];
      if (type?.endsWith("-x86_64-cpu")) cpuModels.add(type.slice(0, -"-x86_64-cpu".length));
    }
    for (const type of ["static", "full"]) {
      for (const name of cpuModels) {
        await recorder.record({ command: "query-cpu-model-expansion", args: { type, model: { name } } });
      }
    }
    // Exactly what known managers send (libvirt's probe and q35 start-up): their argument combinations.
    await recorder.recordAll(readProfileRequests(machine));

    const stateRequests = [...recorder.log];
    const differing = new Set(await recorder.findVolatile(stateRequests));
    // In recording order, so that two recordings of the same QEMU list them alike.
    const volatile = Object.keys(recorder.replies).filter(
      (key) => differing.has(key) || KNOWN_VOLATILE.test(key),
    );

    // The type sweeps, on a fresh QEMU: instantiating types must not leave traces in the tree recorded above.
    await recorder.restart();
    recorder.prelude = [{ command: "qom-list-types" }];
    const typeQueries: Request[] = [
      { command: "qom-list-types" },
      { command: "qom-list-types", args: { abstract: true } },
      { command: "qom-list-types", args: { abstract: false } },
    ];
    for (const implements_ of [
      "device",
      "machine",
      "x86_64-cpu",
      "accel",
      "memory-backend",
      "user-creatable",
    ]) {
      typeQueries.push({ command: "qom-list-types", args: { implements: implements_ } });
      typeQueries.push({ command: "qom-list-types", args: { implements: implements_, abstract: true } });
    }
    await recorder.recordAll(typeQueries);
    const types = returned<{ name: string }[]>(
      await recorder.record({ command: "qom-list-types", args: { abstract: true } }),
    );
    const typeNames = [...(types ?? []).map((t) => t.name), UNKNOWN_NAMES.type];
    for (const typename of typeNames) {
      await recorder.record({ command: "device-list-properties", args: { typename } });
      await recorder.record({ command: "qom-list-properties", args: { typename } });
    }
    // Listing the types loads QEMU's modules, and the spice module adds its own command-line option group: what
    // `query-command-line-options` lists from then on (the probe serves it once a client has loaded the module).
    await recorder.record({ command: "query-command-line-options", args: { option: "spice" } });

    const greeting = recorder.greeting as RawMessage;
    const qemuVersion = ((greeting.msg.QMP as { version: { qemu: Record<string, number> } }).version.qemu ??
      {}) as {
      major: number;
      minor: number;
      micro: number;
    };
    const versionText = (await Bun.$`${[...command, "-version"]}`.quiet().text()).trim();
    const data: ProfileData = {
      format: PROFILE_FORMAT,
      qemu: {
        version: `${qemuVersion.major}.${qemuVersion.minor}.${qemuVersion.micro}`,
        versionText,
        greeting: greeting.text,
      },
      machine,
      args: spec.args,
      startPaused: spec.startPaused,
      pool: recorder.pool,
      replies: recorder.replies,
      crashes: recorder.crashes,
      volatile,
    };
    const stats = {
      requests: recorder.requests,
      replies: Object.keys(recorder.replies).length,
      distinctReplies: recorder.pool.length,
      qomObjects: objects,
      types: typeNames.length - 1,
      crashes: Object.keys(recorder.crashes).length,
      volatile: volatile.length,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
    return { version: `${qemuVersion.major}.${qemuVersion.minor}`, data, stats };
  } finally {
    await recorder.stop();
  }
}

for (const machine of machines) {
  const { version, data, stats } = await recordMachine(machine);
  const dir = values.out ? resolve(values.out) : join(PROFILES, `qemu-${version}`);
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(data);
  const packed = packProfile(data);
  const file = join(dir, `${machine}.qprof`);
  writeFileSync(file, packed);
  const manifestFile = join(dir, "manifest.json");
  const manifest = (await Bun.file(manifestFile)
    .json()
    .catch(() => ({}))) as Record<string, unknown>;
  // No timings in the manifest: recording the same QEMU again should change nothing but volatile replies.
  const { seconds: _seconds, ...counts } = stats;
  manifest[machine] = {
    qemu: data.qemu.versionText.split("\n")[0],
    args: data.args,
    ...counts,
    jsonBytes: json.length,
    fileBytes: packed.length,
  };
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`${file}: ${JSON.stringify(stats)} ${json.length} B json, ${packed.length} B packed`);
}
