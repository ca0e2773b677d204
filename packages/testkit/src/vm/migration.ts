/**
 * Migration, outgoing and incoming, as QEMU 7.2 and 10.0 run it for a q35 guest with no OS (recorded in
 * fixtures/flows/qemu-*\/q35/migration*.jsonl):
 *
 *   migrate ──► setup ──(30 ms)──► PASS 1, active ──(≥100 ms, the bandwidth window)──► PASS 2, STOP,
 *   [device, 10.0] PASS 3 ──(downtime: the rest at max-bandwidth)──► completed ──► run state `postmigrate`
 *
 * MIGRATION and MIGRATION_PASS are sent only with the `events` capability. `migrate_cancel` goes through
 * `cancelling` (before its reply) to `cancelled`, and restarts a guest the migration had stopped. A VM in
 * `postmigrate` refuses another migration until it is resumed. Every step runs on the VM clock, so a test with
 * `clock: "manual"` walks a migration with `fake.clock.advance(ms)`.
 *
 * The fake writes no migration stream (an `exec:` command is not run), and an incoming migration over a socket
 * listens for nobody: it stays in `setup` as QEMU does until a source connects. One from a stream that is there
 * already (`fd:`, `exec:`, `file:`, libvirt's restore) reads nothing and goes setup, active, completed at once;
 * the guest then runs, or stays paused under `-S` (see Runstate.incomingMigrated).
 *
 * A test makes the destination give up part-way with `failAt(percent)` (the script's `migration.failAt`). What
 * QEMU does then was recorded on 7.2 and 10.0 by scripts/record-migration-failure.ts (a destination that stops
 * reading: `exec:head -c 300000 > /dev/null`, a unix socket closed after 300000 bytes), in
 * fixtures/qemu-*-migration-failure.json:
 * - while the guest still runs (the first pass): MIGRATION `failed`, the guest runs on, and `query-migrate` says
 *   `{status: "failed", error-desc: "Unable to write to command: Broken pipe"}` (`socket` for a socket);
 * - once the migration stopped the guest (the switchover): MIGRATION `failed`, then RESUME; 10.0 reports the same
 *   `error-desc`, 7.2 none at all;
 * - either way a new `migrate` is accepted at once.
 */
import { QMPCommandError } from "../errors.ts";
import { existsSync, fstatSync } from "../lazy-node.ts";
import { inQdictOrder } from "../qjson.ts";
import type { JsonObject } from "../types.ts";
import type { ClockTimer } from "./clock.ts";
import { PROVIDES } from "./provides.ts";
import { returnMembers } from "./return-members.ts";
import { Runstate } from "./runstate.ts";
import type { SubsystemProvides, VmApi } from "./types.ts";

// What an idle q35 guest with 256 MiB sends, measured on QEMU 7.2: most pages are zero and cost nothing.
const PRECOPY_BYTES = 108_735;
const DOWNTIME_BYTES = 917_661;
const RAM_TOTAL = 268_967_936;
const PAGE_SIZE = 4096;
const SETUP_MS = 30;
const TOTAL_BYTES = PRECOPY_BYTES + DOWNTIME_BYTES;
// QEMU measures bandwidth over 100 ms windows; the first pass never ends sooner.
const BANDWIDTH_WINDOW_MS = 100;
const CANCEL_MS = 10;
// Reading an idle 256 MiB guest's stream from a file (876 KB, measured on QEMU 7.2): a few milliseconds.
const INCOMING_READ_MS = 20;
// Incoming migrations whose source is there at once, as opposed to a socket that waits for one.
const STREAM_PROTOCOLS = new Set(["fd", "exec", "file"]);
// `file:` came with QEMU 8.2.
const PROTOCOLS_7_2 = ["tcp", "unix", "exec", "fd", "rdma", "vsock"];
const PROTOCOLS = [...PROTOCOLS_7_2, "file"];
const ACTIVE_STATES = new Set(["setup", "active", "device", "cancelling", "pre-switchover"]);

type Phase = "none" | "setup" | "active" | "device" | "cancelling" | "cancelled" | "completed" | "failed";

/** An incoming migration: where it reads from, and how far it got. */
interface IncomingMigration {
  readonly uri: string;
  status: "setup" | "active" | "completed";
}

/** Migration state and commands. */
export class Migration {
  static readonly provides: SubsystemProvides = PROVIDES.migration;

  readonly #vm: VmApi;
  readonly #capabilities: { capability: string; state: boolean }[];
  readonly #parameters: JsonObject;
  #ramMembers: string[] | undefined;
  #phase: Phase = "none";
  #started = 0;
  #setupTime = 0;
  #downtime = 0;
  #ended = 0;
  #timer: ClockTimer | undefined;
  /** Whether the migration stopped the guest (then a cancel restarts it). */
  #stoppedGuest = false;
  #incoming: IncomingMigration | undefined;
  #warnedFdFile = false;
  #failure: { percent: number; left: number } | undefined;
  /** The byte count at which the running migration fails, if it is to fail. */
  #failBytes: number | undefined;
  #errorDesc: string | undefined;
  #switchedOver = false;
  #uri = "";

  constructor(vm: VmApi) {
    this.#vm = vm;
    const profile = vm.machine.profile;
    this.#capabilities = profile?.has("query-migrate-capabilities")
      ? structuredClone(
          profile.returnOf<{ capability: string; state: boolean }[]>("query-migrate-capabilities"),
        )
      : [];
    this.#parameters = profile?.has("query-migrate-parameters")
      ? structuredClone(profile.returnOf<JsonObject>("query-migrate-parameters"))
      : {};

    vm.command("query-migrate-capabilities", () => structuredClone(this.#capabilities));
    vm.command("migrate-set-capabilities", (args) => this.#setCapabilities(args));
    vm.command("query-migrate-parameters", () => structuredClone(this.#parameters));
    vm.command("migrate-set-parameters", (args) => this.#setParameters(args));
    vm.command("query-migrate", () => inQdictOrder(this.#info()));
    vm.command("migrate", (args) => this.#migrate(String(args.uri)));
    vm.command("migrate_cancel", () => this.#cancel());
    vm.command("migrate-incoming", (args) => this.#incomingStart(String(args.uri)));
    vm.command("migrate-pause", () => {
      throw new QMPCommandError(
        "GenericError",
        "migrate-pause is currently only supported during postcopy-active state",
      );
    });
    vm.command("migrate-recover", () => {
      throw new QMPCommandError("GenericError", "Migrate recover can only be run when postcopy is paused.");
    });
  }

  /** The outgoing migration's status (`none` before any). */
  get status(): Phase {
    return this.#phase;
  }

  /**
   * Makes the next outgoing migrations (`times` of them, default every one) fail once `percent` of what they send
   * is sent, as QEMU does when its destination stops reading: MIGRATION `failed`, a guest the migration had
   * stopped resumed, `query-migrate` `failed` with QEMU's `error-desc`. With the model's idle 256 MiB guest about
   * 11% goes while the guest runs, the rest after the switchover stopped it. `failAt(undefined)` lets migrations
   * complete again.
   *
   * @example
   * fake.migration.failAt(40, { times: 1 }); // the first migrate fails at 40%, a retry completes
   */
  failAt(percent: number | undefined, options: { times?: number } = {}): this {
    if (percent === undefined) {
      this.#failure = undefined;
      return this;
    }
    if (!Number.isFinite(percent) || percent < 0 || percent >= 100) {
      throw new RangeError(`failAt takes a percent from 0 to below 100, not ${percent}`);
    }
    const times = options.times ?? Number.POSITIVE_INFINITY;
    if (!(times >= 1)) throw new RangeError(`failAt's times must be at least 1, not ${times}`);
    this.#failure = { percent, left: times };
    return this;
  }

  get #running(): boolean {
    return ACTIVE_STATES.has(this.#phase);
  }

  get #events(): boolean {
    return this.#capabilities.some((c) => c.capability === "events" && c.state);
  }

  #announce(status: string): void {
    if (this.#events) this.#vm.emit("MIGRATION", { status });
  }

  #pass(pass: number): void {
    if (this.#events) this.#vm.emit("MIGRATION_PASS", { pass });
  }

  #setCapabilities(args: JsonObject): void {
    if (this.#running) throw new QMPCommandError("GenericError", "There's a migration process in progress");
    const wanted = args.capabilities as { capability: string; state: boolean }[];
    for (const { capability } of wanted) {
      if (!this.#capabilities.some((c) => c.capability === capability)) {
        throw new QMPCommandError(
          "GenericError",
          `Parameter 'capability' does not accept value '${capability}'`,
        );
      }
    }
    for (const { capability, state } of wanted) {
      const entry = this.#capabilities.find((c) => c.capability === capability);
      if (entry !== undefined) entry.state = state;
    }
  }

  #setParameters(args: JsonObject): void {
    for (const [name, value] of Object.entries(args)) {
      if (name in this.#parameters) this.#parameters[name] = value;
    }
  }

  /** Bytes per millisecond the migration may send (`max-bandwidth` is bytes per second). */
  get #bytesPerMs(): number {
    const bandwidth = Number(this.#parameters["max-bandwidth"] ?? 33_554_432);
    return bandwidth > 0 ? bandwidth / 1000 : Number.POSITIVE_INFINITY;
  }

  #migrate(uri: string): void {
    const runstate = this.#vm.get(Runstate);
    if (this.#running) throw new QMPCommandError("GenericError", "There's a migration process in progress");
    if (runstate.status === "inmigrate") {
      throw new QMPCommandError("GenericError", "Guest is waiting for an incoming migration");
    }
    if (runstate.status === "postmigrate") {
      throw new QMPCommandError(
        "GenericError",
        "Can't migrate the vm that was paused due to previous migration",
      );
    }
    this.#started = this.#vm.clock.now();
    this.#stoppedGuest = false;
    this.#switchedOver = false;
    this.#errorDesc = undefined;
    this.#uri = uri;
    this.#failBytes = undefined;
    this.#phase = "setup";
    this.#announce("setup");
    if (!this.#knows(uri)) {
      this.#phase = "failed";
      this.#announce("failed");
      throw new QMPCommandError("GenericError", "Parameter 'uri' expects a valid migration protocol");
    }
    if (this.#failure !== undefined) {
      this.#failBytes = (TOTAL_BYTES * this.#failure.percent) / 100;
      this.#failure.left -= 1;
      if (this.#failure.left <= 0) this.#failure = undefined;
    }
    this.#after(SETUP_MS, () => this.#firstPass());
  }

  #after(ms: number, step: () => void): void {
    this.#timer?.cancel();
    this.#timer = this.#vm.clock.setTimeout(() => {
      this.#timer = undefined;
      step();
    }, ms);
  }

  #firstPass(): void {
    this.#setupTime = this.#vm.clock.now() - this.#started;
    this.#pass(1);
    this.#phase = "active";
    this.#announce("active");
    const firstPassMs = Math.max(BANDWIDTH_WINDOW_MS, PRECOPY_BYTES / this.#bytesPerMs);
    if (this.#failBytes !== undefined && this.#failBytes < PRECOPY_BYTES) {
      this.#after(Math.min(firstPassMs, this.#failBytes / this.#bytesPerMs), () => this.#fail());
      return;
    }
    this.#after(firstPassMs, () => this.#switchover());
  }

  #switchover(): void {
    const runstate = this.#vm.get(Runstate);
    this.#switchedOver = true;
    this.#pass(2);
    if (runstate.running) {
      runstate.enter("finish-migrate");
      this.#stoppedGuest = true;
    }
    if (this.#vm.machine.qemuVersion !== "7.2") {
      this.#phase = "device";
      this.#announce("device");
    }
    this.#pass(3);
    const start = this.#vm.clock.now();
    if (this.#failBytes !== undefined) {
      this.#after((this.#failBytes - PRECOPY_BYTES) / this.#bytesPerMs, () => this.#fail());
      return;
    }
    this.#after(DOWNTIME_BYTES / this.#bytesPerMs, () => {
      this.#downtime = this.#vm.clock.now() - start;
      this.#ended = this.#vm.clock.now();
      this.#phase = "completed";
      this.#announce("completed");
      runstate.status = "postmigrate";
    });
  }

  /** The destination stopped reading: QEMU's write fails, and so does the migration. */
  #fail(): void {
    this.#phase = "failed";
    // 7.2 loses the error when the write fails after the switchover (in its completion step); 10.0 keeps it.
    // Both restart a guest the migration stopped.
    if (!this.#switchedOver || this.#vm.machine.qemuVersion !== "7.2") {
      this.#errorDesc = `Unable to write to ${channelOf(this.#uri)}: Broken pipe`;
    }
    this.#announce("failed");
    if (this.#stoppedGuest) this.#vm.get(Runstate).resume();
  }

  #cancel(): void {
    if (!this.#running || this.#phase === "cancelling") return;
    this.#phase = "cancelling";
    this.#announce("cancelling");
    this.#after(CANCEL_MS, () => {
      this.#phase = "cancelled";
      this.#announce("cancelled");
      // The guest runs again if the migration was what stopped it.
      if (this.#stoppedGuest) this.#vm.get(Runstate).resume();
    });
  }

  #info(): JsonObject {
    if (this.#incoming !== undefined && this.#phase === "none") return this.#incomingInfo();
    switch (this.#phase) {
      case "none":
        return {};
      case "setup":
      case "cancelled":
        return { status: this.#phase };
      case "failed":
        return this.#errorDesc === undefined
          ? { status: "failed" }
          : { status: "failed", "error-desc": this.#errorDesc };
      case "completed":
        return {
          status: "completed",
          ram: this.#ram(1),
          "total-time": this.#ended - this.#started,
          downtime: this.#downtime,
          "setup-time": this.#setupTime,
        };
      default: {
        const elapsed = this.#vm.clock.now() - this.#started;
        return {
          status: this.#phase,
          ram: this.#ram(Math.min(1, (elapsed * this.#bytesPerMs) / TOTAL_BYTES)),
          "total-time": elapsed,
          "expected-downtime": 300,
          "setup-time": this.#setupTime,
        };
      }
    }
  }

  /** RAM counters `done` (0 to 1) of the way through; only the members this QEMU's schema has. */
  #ram(done: number): JsonObject {
    const normalBytes = Math.round(TOTAL_BYTES * done);
    const values: JsonObject = {
      transferred: normalBytes,
      remaining: done >= 1 ? 0 : RAM_TOTAL - Math.round(RAM_TOTAL * done),
      total: RAM_TOTAL,
      duplicate: Math.round((RAM_TOTAL / PAGE_SIZE) * done),
      skipped: 0,
      normal: Math.round(normalBytes / PAGE_SIZE),
      "normal-bytes": normalBytes,
      "dirty-pages-rate": 0,
      mbps: 0,
      "dirty-sync-count": done >= 1 ? 3 : 1,
      "postcopy-requests": 0,
      "page-size": PAGE_SIZE,
      "multifd-bytes": 0,
      "pages-per-second": 0,
      "precopy-bytes": Math.min(normalBytes, PRECOPY_BYTES),
      "downtime-bytes": done >= 1 ? DOWNTIME_BYTES : 0,
      "postcopy-bytes": 0,
      "dirty-sync-missed-zero-copy": 0,
    };
    // Which counters `ram` has is the schema's to say: 10.0 dropped `skipped`. Read when first asked, not at
    // start-up: the schema is parsed on first use.
    this.#ramMembers ??= returnMembers(this.#vm.machine, "query-migrate", "ram");
    return Object.fromEntries(this.#ramMembers.filter((m) => m in values).map((m) => [m, values[m]]));
  }

  #incomingStart(uri: string): void {
    if (this.#incoming !== undefined) {
      throw new QMPCommandError("GenericError", "The incoming migration has already been started");
    }
    if (this.#vm.get(Runstate).status !== "inmigrate") {
      throw new QMPCommandError("GenericError", "'-incoming' was not specified on the command line");
    }
    const known = this.#knows(uri);
    const protocol = uri.split(":")[0] ?? "";
    const incoming: IncomingMigration = { uri, status: "setup" };
    if (known && protocol === "file") {
      // 10.0 opens the file first: a missing one is refused before `setup` is announced, and the incoming side
      // stays in `setup` for good (the fake reads nothing from a file that is there).
      const path = uri.slice("file:".length).split(",")[0] ?? "";
      if (!existsSync(path)) {
        this.#incoming = incoming;
        throw new QMPCommandError("GenericError", `Could not open '${path}': No such file or directory`);
      }
    }
    // 7.2 announces `setup` before it looks at the URI; 10.0 only once the URI is good.
    if (known || this.#vm.machine.qemuVersion === "7.2") this.#announce("setup");
    if (!known) throw new QMPCommandError("GenericError", `unknown migration protocol: ${uri}`);
    this.#incoming = incoming;
    if (!STREAM_PROTOCOLS.has(protocol)) return;
    if (protocol === "fd" && this.#vm.machine.qemuVersion !== "7.2")
      this.#warnFdFile(uri.slice("fd:".length));
    this.#vm.clock.setTimeout(() => {
      incoming.status = "active";
      this.#announce("active");
      this.#vm.clock.setTimeout(() => {
        incoming.status = "completed";
        this.#announce("completed");
        this.#vm.get(Runstate).incomingMigrated();
      }, INCOMING_READ_MS);
    }, 0);
  }

  /**
   * QEMU 10.0 deprecates `fd:` on a regular file (libvirt's restore hands it the saved image) and says so once per
   * process. Only a descriptor this process holds can be looked at: an inherited number, not a getfd name.
   */
  #warnFdFile(fd: string): void {
    if (this.#warnedFdFile || !/^\d+$/.test(fd)) return;
    try {
      if (!fstatSync(Number(fd)).isFile()) return;
    } catch {
      return;
    }
    this.#warnedFdFile = true;
    this.#vm.warn("fd: migration to a file is deprecated. Use file: instead.");
  }

  #knows(uri: string): boolean {
    const protocols = this.#vm.machine.qemuVersion === "7.2" ? PROTOCOLS_7_2 : PROTOCOLS;
    return protocols.includes(uri.split(":")[0] ?? "");
  }

  #incomingInfo(): JsonObject {
    const uri = this.#incoming?.uri ?? "";
    // Once a stream is being read, both versions report where the incoming side is.
    if (this.#incoming !== undefined && this.#incoming.status !== "setup")
      return { status: this.#incoming.status };
    const [protocol = "", ...rest] = uri.split(":");
    // 10.0 reports the incoming side's own status; 7.2 only where it listens.
    const status = this.#vm.machine.qemuVersion === "7.2" ? {} : { status: "setup" };
    if (protocol === "unix") return { ...status, "socket-address": [{ path: rest.join(":"), type: "unix" }] };
    if (protocol === "tcp") {
      const port = rest.at(-1) ?? "";
      const address = { port, ipv6: false, host: rest.slice(0, -1).join(":"), type: "inet" };
      return { ...status, "socket-address": [address] };
    }
    return status;
  }
}

/**
 * What QEMU calls the channel it writes a migration to, in its write error: recorded for `exec:` (command) and
 * `unix:` (socket); `tcp:` and `vsock:` use the same socket channel, `file:` and `fd:` QEMU's file channel.
 */
function channelOf(uri: string): string {
  const protocol = uri.split(":")[0];
  if (protocol === "exec") return "command";
  if (protocol === "unix" || protocol === "tcp" || protocol === "vsock") return "socket";
  return "file";
}
