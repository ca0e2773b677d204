/**
 * Where a flow runs: a real QEMU 7.2 q35 (TCG, SeaBIOS, no guest OS) or the fake, each started the way the
 * flow's VmConfig says. Each target reports the paths that differ between runs so the normaliser can hide them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createFakeQemu, type FakeQemuOptions, type QemuRelease, spawnQemu } from "../../src/index.ts";
import type { Flow, FlowContext, VmConfig } from "./flows/flow.ts";

export interface FlowTarget extends AsyncDisposable {
  readonly address: string;
  /** The monitor's socket path (it appears in `query-chardev`), normalised to `$QMP_SOCKET`. */
  readonly socketPath: string;
}

/** The machine every flow runs on: what issue 14 calls "q35 QEMU 7.2". */
export const Q35_ARGS: readonly string[] = [
  "-machine",
  "q35,accel=tcg",
  "-m",
  "256",
  "-nodefaults",
  "-display",
  "none",
];

/** The machine libvirt probes capabilities on. */
export const NONE_ARGS: readonly string[] = ["-machine", "none,accel=tcg", "-nodefaults", "-display", "none"];

export function qemuArgsFor(vm: VmConfig): string[] {
  const args = [...(vm.machine === "none" ? NONE_ARGS : Q35_ARGS)];
  if (vm.startPaused === true) args.push("-S");
  if (vm.noShutdown === true) args.push("-no-shutdown");
  if (vm.noReboot === true) args.push("-no-reboot");
  if (vm.incomingDefer === true) args.push("-incoming", "defer");
  for (const device of vm.devices ?? []) args.push("-device", JSON.stringify(device));
  return args;
}

export async function startQemu(
  vm: VmConfig,
  binary?: string,
  qemuVersion?: QemuRelease,
): Promise<FlowTarget> {
  const qemu = await spawnQemu({
    args: qemuArgsFor(vm),
    ...(binary === undefined ? {} : { binary }),
    ...(qemuVersion === undefined ? {} : { qemuVersion }),
  });
  return {
    address: qemu.address,
    socketPath: qemu.path,
    [Symbol.asyncDispose]: () => qemu[Symbol.asyncDispose](),
  };
}

/**
 * The fake standing in for the same VM: each VmConfig field as the fake's option of the same meaning (devices on
 * the command line are the VM model's to honour as it grows). A flow whose VM the fake cannot build yet is
 * listed in FAKE_PENDING.
 */
export async function startFake(vm: VmConfig, qemuVersion?: QemuRelease): Promise<FlowTarget> {
  const options: FakeQemuOptions = {
    machine: vm.machine ?? "q35",
    ...(vm.startPaused === true ? { status: "prelaunch" } : {}),
    ...(vm.incomingDefer === true ? { incoming: "defer" } : {}),
    ...(vm.noShutdown === true ? { noShutdown: true } : {}),
    ...(vm.noReboot === true ? { noReboot: true } : {}),
    ...(vm.devices === undefined ? {} : { devices: vm.devices }),
    ...(qemuVersion === undefined ? {} : { qemuVersion }),
  };
  const fake = await createFakeQemu(options);
  const socketPath = fake.address.startsWith("unix:") ? fake.address.slice(5) : fake.address;
  return {
    address: fake.address,
    socketPath,
    [Symbol.asyncDispose]: () => fake.close(),
  };
}

/** A fresh work dir for one run of a flow, with its setup done; disposing removes it. */
export async function flowContext(flow: Flow): Promise<FlowContext & Disposable> {
  const dir = mkdtempSync(join(tmpdir(), `qmpkit-flow-${flow.name}-`));
  const ctx = { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
  await flow.setup?.(ctx);
  return ctx;
}

export function socketDirOf(target: FlowTarget): string {
  return dirname(target.socketPath);
}
