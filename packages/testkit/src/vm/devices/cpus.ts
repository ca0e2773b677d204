/**
 * The vCPUs: `query-hotpluggable-cpus` and `query-cpus-fast` as recorded for the machine (one socket, one core,
 * one thread: `-smp 1`), and QEMU's refusals of a CPU `device_add` (x86_cpu_pre_plug in QEMU 7.2).
 */
import { QMPCommandError } from "../../errors.ts";
import { RawJson } from "../../qjson.ts";
import type { JsonObject } from "../../types.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi } from "../types.ts";

/** The topology `-smp 1` gives: every id ranges over 0:0. */
const MAX_ID = { "socket-id": 0, "core-id": 0, "thread-id": 0 } as const;

export class Cpus {
  static readonly provides: SubsystemProvides = PROVIDES.cpus;

  constructor(vm: VmApi) {
    const recorded = vm.machine.profile;
    if (recorded === undefined) return;
    for (const command of ["query-hotpluggable-cpus", "query-cpus-fast"]) {
      const reply = recorded.reply(command);
      if (reply?.kind !== "return") continue;
      // query-cpus-fast's first member is the host thread id, the recording QEMU's; the fake's vCPU "thread" is
      // its own process. (The `thread-id` in `props` is the topology's and stays.)
      const text =
        command === "query-cpus-fast"
          ? reply.text.replace(/^\[\{"thread-id": \d+/, `[{"thread-id": ${process.pid}`)
          : reply.text;
      vm.command(command, () => new RawJson(text));
    }
  }

  /** Whether `driver` is a CPU model's QOM type (`qemu64-x86_64-cpu`). */
  isCpuType(driver: string): boolean {
    return driver.endsWith("-x86_64-cpu") || driver.endsWith("-i386-cpu");
  }

  /** QEMU's refusal of a CPU hotplug: every slot of `-smp 1` holds the boot vCPU. */
  refuse(args: JsonObject): never {
    for (const key of ["socket-id", "core-id", "thread-id"] as const) {
      const value = args[key];
      const name = key.replace("-id", "");
      if (value === undefined) throw new QMPCommandError("GenericError", `CPU ${name}-id is not set`);
      if (Number(value) > MAX_ID[key]) {
        throw new QMPCommandError(
          "GenericError",
          `Invalid CPU ${name}-id: ${Number(value)} must be in range 0:${MAX_ID[key]}`,
        );
      }
    }
    // The only slot is the boot vCPU's.
    throw new QMPCommandError("GenericError", "CPU[0] with APIC ID 0 exists");
  }
}
