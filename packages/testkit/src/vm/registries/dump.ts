/**
 * `dump-guest-memory` and `query-dump`, as QEMU 7.2 and 10.0 run them for a q35 guest with 256 MiB (recorded in
 * fixtures/flows/qemu-*\/q35/registries.jsonl and by hand):
 * - a running guest is stopped around the dump: STOP, DUMP_COMPLETED {result}, RESUME, then the reply; a paused
 *   one gets only DUMP_COMPLETED;
 * - with `detach: true` the reply comes right after STOP, `query-dump` shows `active` with `completed` growing,
 *   and DUMP_COMPLETED then RESUME follow (on the VM clock; QEMU takes about two seconds for 256 MiB); a second
 *   dump meanwhile is "There is a dump in process, please wait.";
 * - `total` is the guest RAM plus what the firmware maps: 256 KiB of BIOS before the CPUs ever ran, 128 KiB
 *   once they have (a display's VRAM joins later, once the firmware maps its BAR, which the fake does not model);
 * - a protocol other than `file:`/`fd:` is "Invalid parameter 'protocol'"; a file that cannot be created is
 *   "Could not open 'PATH': …".
 *
 * The file written is a small valid ELF core (header, an empty PT_NOTE, one PT_LOAD for the RAM with no bytes in
 * the file): a reader sees a dump, not the guest's memory. Created read-only for the owner, as QEMU does.
 */
import { QMPCommandError } from "../../errors.ts";
import { closeSync, openSync, writeSync } from "../../lazy-node.ts";
import { inQdictOrder } from "../../qjson.ts";
import { strerror } from "../../strerror.ts";
import type { JsonObject } from "../../types.ts";
import { PROVIDES } from "../provides.ts";
import { Runstate } from "../runstate.ts";
import type { SubsystemProvides, VmApi, VmCommandContext } from "../types.ts";
import { GUEST_RAM_BYTES } from "./balloon.ts";
import { Fds } from "./fds.ts";

const BIOS_BEFORE_FIRMWARE = 256 * 1024;
const BIOS_AFTER_FIRMWARE = 128 * 1024;
const DETACHED_DUMP_MS = 2000;

type DumpStatus = "none" | "active" | "completed" | "failed";

/** The dump state (one dump at a time, as in QEMU). */
export class Dump {
  static readonly provides: SubsystemProvides = PROVIDES.dump;

  readonly #vm: VmApi;
  #status: DumpStatus = "none";
  #total = 0;
  #completed = 0;
  #started = 0;

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("dump-guest-memory", (args, ctx) => this.#dump(args, ctx));
    vm.command("query-dump", () => this.#result());
  }

  /** Whether a detached dump is running (QEMU refuses `stop` and another dump meanwhile). */
  get active(): boolean {
    return this.#status === "active";
  }

  #dump(args: JsonObject, ctx: VmCommandContext): void {
    if (this.active) throw new QMPCommandError("GenericError", "There is a dump in process, please wait.");
    const format = (args.format as string | undefined) ?? "elf";
    if (format !== "elf") this.#vm.unimplemented(ctx, `dump-guest-memory in the ${format} format`);
    if (args.begin !== undefined || args.length !== undefined) {
      this.#vm.unimplemented(ctx, "dump-guest-memory of a memory range (begin/length)");
    }
    if (this.#vm.machine.name !== "q35") this.#vm.unimplemented(ctx, "dump-guest-memory without guest RAM");
    const protocol = String(args.protocol);
    const runstate = this.#vm.get(Runstate);
    const total = GUEST_RAM_BYTES + (runstate.firmwareRan ? BIOS_AFTER_FIRMWARE : BIOS_BEFORE_FIRMWARE);
    if (protocol.startsWith("file:")) {
      writeCore(protocol.slice(5), total);
    } else if (protocol.startsWith("fd:")) {
      const name = protocol.slice(3);
      if (!this.#vm.get(Fds).hasNamed(name)) {
        throw new QMPCommandError("GenericError", `File descriptor named '${name}' has not been found`);
      }
    } else {
      throw new QMPCommandError("GenericError", "Invalid parameter 'protocol'");
    }
    const resume = runstate.running;
    if (resume) runstate.enter("save-vm");
    this.#total = total;
    if (args.detach === true) {
      this.#status = "active";
      this.#completed = 0;
      this.#started = this.#vm.clock.now();
      this.#vm.clock.setTimeout(() => this.#finish(resume), DETACHED_DUMP_MS);
      return;
    }
    this.#finish(resume);
  }

  #finish(resume: boolean): void {
    this.#status = "completed";
    this.#completed = this.#total;
    this.#vm.emit("DUMP_COMPLETED", { result: this.#result() as JsonObject });
    if (resume) this.#vm.get(Runstate).resume();
  }

  #result(): unknown {
    let completed = this.#completed;
    if (this.#status === "active") {
      const elapsed = this.#vm.clock.now() - this.#started;
      completed = Math.floor((this.#total * Math.min(elapsed, DETACHED_DUMP_MS)) / DETACHED_DUMP_MS);
    }
    return inQdictOrder({ status: this.#status, completed, total: this.#total });
  }
}

/** Writes an ELF64 x86-64 core file describing `ramBytes` of guest RAM at physical address 0. */
function writeCore(path: string, ramBytes: number): void {
  const header = new DataView(new ArrayBuffer(64 + 2 * 56));
  const bytes = new Uint8Array(header.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); // \x7fELF, 64-bit, little-endian, version 1
  header.setUint16(16, 4, true); // ET_CORE
  header.setUint16(18, 62, true); // EM_X86_64
  header.setUint32(20, 1, true);
  header.setBigUint64(32, 64n, true); // program headers right after this header
  header.setUint16(52, 64, true);
  header.setUint16(54, 56, true);
  header.setUint16(56, 2, true);
  // PT_NOTE, empty: where QEMU puts the vCPUs' registers.
  header.setUint32(64, 4, true);
  header.setBigUint64(64 + 8, BigInt(bytes.length), true);
  // PT_LOAD for the RAM, its contents not in the file.
  const load = 64 + 56;
  header.setUint32(load, 1, true);
  header.setUint32(load + 4, 7, true); // RWX
  header.setBigUint64(load + 8, BigInt(bytes.length), true);
  header.setBigUint64(load + 40, BigInt(ramBytes), true); // p_memsz
  let fd: number;
  try {
    fd = openSync(path, "w", 0o400);
  } catch (error) {
    const reason = strerror(error) ?? String(error);
    throw new QMPCommandError("GenericError", `Could not open '${path}': ${reason}`);
  }
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}
