/**
 * The checks QEMU (7.2 or 10.0, worded by its {@link CliDialect}) makes after reading the whole command line — machine type and properties, accelerator,
 * CPU model, topology, `-rtc`/`-boot` values, monitors' chardevs, and every `-object`/`-blockdev`/`-netdev`/
 * `-device`/`-audiodev`/`-drive` — with QEMU's texts. The lists come from the recorded `-machine help`,
 * `-cpu help`, `-device help` and the introspection schema.
 */
import { closeSync, existsSync, openSync } from "node:fs";
import type { SchemaEntry } from "../dispatch/schema-args.ts";
import { QAPISchema } from "../dispatch/schema-args.ts";
import { errnoText } from "../strerror.ts";
import { MODELLED_DRIVE_KEYS } from "../vm/block/drives.ts";
import { type EmulatorConfig, EmulatorExit, fail, type StartupOperation } from "./command-line.ts";
import type { CliDialect } from "./dialect.ts";
import { typeKeyvalArguments } from "./keyval-types.ts";

/** What one QEMU lists for `-machine help`, `-cpu help`, `-device help` and `-machine TYPE,help`. */
export interface Catalogue {
  readonly dialect: CliDialect;
  readonly machineHelp: string;
  readonly machineProps: Readonly<Record<string, string>>;
  readonly cpuHelp: string;
  readonly deviceHelp: string;
  readonly schema: readonly SchemaEntry[];
}

/** A machine type as `query-machines` would name it, after resolving aliases (`q35` → `pc-q35-7.2`). */
export interface ResolvedMachine {
  readonly type: string;
  /** `none`, `q35` (any `pc-q35-*`) or `pc` (any `pc-i440fx-*`): the profile family. */
  readonly family: "none" | "q35" | "pc" | "other";
}

const AUDIODEV_DRIVERS = ["none", "alsa", "oss", "pa", "sdl", "sndio", "spice", "dbus", "wav", "jack"];

/** Runs the checks in QEMU's order; throws {@link EmulatorExit} with QEMU's message on the first failure. */
export function validateConfig(
  config: EmulatorConfig,
  catalogue: Catalogue,
  prog: string,
): ResolvedMachine & { readonly family: "none" | "q35" } {
  for (const [index, monitor] of config.monitors.entries()) {
    if (!config.chardevs.some((c) => c.id === monitor.chardev)) {
      const location = config.monLocations[index - (config.monitors.length - config.monLocations.length)];
      fail(prog, location, `chardev "${monitor.chardev}" not found`);
    }
  }
  checkRtc(config, prog);
  checkBoot(config, prog);
  const machine = resolveMachine(config.machine.type, catalogue, prog);
  if (machine.family !== "none" && machine.family !== "q35") {
    // A machine QEMU has but the fake does not model must never start as something else.
    fail(
      prog,
      undefined,
      `-machine ${machine.type}: qmpkit's fake QEMU models only the machines none and q35 (pc-q35-*); ` +
        "give -machine q35 or -machine none",
    );
  }
  checkSmp(config, catalogue.dialect, prog);
  for (const chardev of config.chardevs) {
    if (
      chardev.backend === "socket" &&
      !chardev.options.path &&
      !chardev.options.fd &&
      !chardev.options.port
    ) {
      fail(prog, chardev.location, "Unable to parse FD number ");
    }
  }
  let schema: QAPISchema | undefined;
  for (const op of config.operations) {
    // Built for the first backend to check: a command line without one never parses the schema at start-up.
    if (op.command === "device_add") continue;
    schema ??= new QAPISchema(catalogue.schema);
    checkBackend(op, schema, machine, prog);
  }
  checkMachineProps(config, machine, catalogue, prog);
  checkAccelerators(config, catalogue.dialect, prog);
  if (config.cpu !== undefined) {
    const model = config.cpu.split(",")[0] ?? "";
    if (!cpuModels(catalogue).has(model)) fail(prog, undefined, `unable to find CPU model '${model}'`);
  }
  const devices = deviceModels(catalogue);
  for (const op of config.operations) {
    if (op.command !== "device_add") continue;
    const driver = op.args.driver;
    if (typeof driver !== "string") fail(prog, op.location, "Parameter 'driver' is missing");
    if (!devices.has(driver)) fail(prog, op.location, `'${driver}' is not a valid device model name`);
  }
  return { type: machine.type, family: machine.family };
}

/**
 * QEMU tries the accelerators in order (`accel=kvm:tcg`, or several `-accel`): one that fails prints why, and the
 * next is tried ("falling back to tcg"); when the last fails, QEMU exits 1. KVM initialises where this process
 * can open /dev/kvm for reading and writing, as QEMU's would; the fake then reports KVM enabled (query-kvm).
 */
function checkAccelerators(config: EmulatorConfig, dialect: CliDialect, prog: string): void {
  const accels = config.accel.length === 0 ? [{ name: "tcg", location: undefined }] : config.accel;
  for (const [index, accel] of accels.entries()) {
    const failure = accel.name === "kvm" ? kvmFailure() : undefined;
    if (failure === undefined) {
      config.accelerator = accel.name === "kvm" ? "kvm" : "tcg";
      return;
    }
    const where = accel.location === undefined ? "" : `${accel.location}: `;
    const open = `Could not access KVM kernel module: ${failure}\n`;
    config.notices.push(
      dialect.kvmOpenReported
        ? { text: `${prog}: ${where}${open}`, stamped: true }
        : { text: open, stamped: false },
      { text: `${prog}: ${where}failed to initialize kvm: ${failure}\n`, stamped: true },
    );
    const next = accels[index + 1];
    if (next === undefined) {
      const printed = config.notices.map((n) => n.text).join("");
      config.notices.length = 0;
      throw new EmulatorExit(1, printed);
    }
    config.notices.push({ text: `${prog}: falling back to ${next.name}\n`, stamped: true });
  }
}

/** Why opening /dev/kvm fails here (strerror's text), or undefined when it opens. */
function kvmFailure(): string | undefined {
  try {
    closeSync(openSync("/dev/kvm", "r+"));
    return undefined;
  } catch (error) {
    return errnoText(error);
  }
}

function resolveMachine(type: string | undefined, catalogue: Catalogue, prog: string): ResolvedMachine {
  let resolved: string | undefined;
  for (const line of catalogue.machineHelp.split("\n").slice(1)) {
    const match = /^(\S+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const [, name, description] = match as unknown as [string, string, string];
    const alias = /\(alias of ([^)]+)\)/.exec(description)?.[1];
    if (type === undefined ? description.includes("(default)") : name === type) resolved = alias ?? name;
  }
  if (resolved === undefined) {
    const why = catalogue.dialect.unsupportedMachine.replace("{type}", type ?? "");
    throw new EmulatorExit(1, `${prog}: ${why}\nUse -machine help to list supported machines\n`);
  }
  const family =
    resolved === "none"
      ? "none"
      : resolved.startsWith("pc-q35-")
        ? "q35"
        : resolved.startsWith("pc-i440fx-")
          ? "pc"
          : "other";
  return { type: resolved, family };
}

function checkMachineProps(
  config: EmulatorConfig,
  machine: ResolvedMachine,
  catalogue: Catalogue,
  prog: string,
): void {
  // Only the generation's own versioned types were recorded; an older one of the family (`pc-q35-7.2` on 10.0)
  // has the same properties.
  const help =
    catalogue.machineProps[machine.type] ??
    Object.entries(catalogue.machineProps).find(
      ([type]) => machine.family !== "none" && type.startsWith(machine.type.replace(/\d+\.\d+$/, "")),
    )?.[1];
  if (help === undefined) return;
  const known = new Set([...help.matchAll(/^ {2}([\w.-]+)=/gm)].map((m) => m[1]));
  for (const prop of Object.keys(config.machine.props)) {
    if (!known.has(prop)) fail(prog, undefined, `Property '${machine.type}-machine.${prop}' not found`);
  }
}

function checkSmp(config: EmulatorConfig, dialect: CliDialect, prog: string): void {
  if (config.smp === undefined) return;
  const values: Record<string, number> = {};
  for (const [key, text] of Object.entries(config.smp.props)) {
    if (!/^\d+$/.test(text)) fail(prog, undefined, `Parameter 'smp.${key}' expects integer`);
    values[key] = Number(text);
  }
  if (Object.values(values).some((v) => v === 0)) {
    if (dialect.smpZero.fatal) fail(prog, undefined, dialect.smpZero.text);
    config.warnings.push(`${prog}: ${dialect.smpZero.text}\n`);
  }
  const cpus = values.cpus || 1;
  const sockets = values.sockets || 1;
  const cores = values.cores || 1;
  const threads = values.threads || 1;
  const maxcpus = values.maxcpus || Math.max(cpus, sockets * cores * threads);
  if (maxcpus < cpus) {
    fail(
      prog,
      undefined,
      `Invalid CPU topology: maxcpus must be equal to or greater than smp: sockets (${sockets}) * cores (${cores}) * threads (${threads}) == maxcpus (${maxcpus}) < smp_cpus (${cpus})`,
    );
  }
}

function checkRtc(config: EmulatorConfig, prog: string): void {
  const { base, clock, driftfix } = config.rtc;
  if (
    base !== undefined &&
    base !== "utc" &&
    base !== "localtime" &&
    !/^\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d)?$/.test(base)
  ) {
    throw new EmulatorExit(
      1,
      `${prog}: invalid datetime format\nvalid formats: '2006-06-17T16:01:21' or '2006-06-17'\n`,
    );
  }
  for (const [value, allowed] of [
    [clock, ["host", "rt", "vm"]],
    [driftfix, ["none", "slew"]],
  ] as const) {
    if (value !== undefined && !(allowed as readonly string[]).includes(value)) {
      fail(prog, undefined, `invalid option value '${value}'`);
    }
  }
}

function checkBoot(config: EmulatorConfig, prog: string): void {
  for (const key of ["order", "once"]) {
    for (const device of config.boot[key] ?? "") {
      if (device < "a" || device > "p") fail(prog, undefined, `Invalid boot device '${device}'`);
    }
  }
}

function checkBackend(
  op: StartupOperation,
  schema: QAPISchema,
  machine: ResolvedMachine,
  prog: string,
): void {
  const args = op.json ? op.args : typeKeyvalArguments(schema.entries, commandOf(op), op.args);
  if (op.command === "audiodev") {
    if (typeof args.driver !== "string") fail(prog, op.location, "Parameter 'driver' is missing");
    if (!AUDIODEV_DRIVERS.includes(args.driver)) {
      fail(prog, op.location, `Parameter 'driver' does not accept value '${args.driver}'`);
    }
    if (typeof args.id !== "string") fail(prog, op.location, "Parameter 'id' is missing");
    return;
  }
  if (op.command === "drive") {
    checkDrive(op, schema, machine, prog);
    return;
  }
  const problem = schema.checkArguments(commandOf(op), args);
  if (problem !== undefined) fail(prog, op.location, problem);
  if (op.command === "blockdev-add" && typeof args["node-name"] !== "string") {
    fail(prog, op.location, "'node-name' must be specified for the root node");
  }
}

const DRIVE_INTERFACES = ["none", "ide", "scsi", "floppy", "pflash", "mtd", "sd", "virtio", "xen"];

/**
 * `-drive` as QEMU's drive_new checks it (interface, media, format, then the image), and what the fake does not
 * model refused by name rather than half-built: keys beyond {@link MODELLED_DRIVE_KEYS}, interfaces other than
 * `none` and `virtio`, formats other than raw and qcow2.
 */
function checkDrive(op: StartupOperation, schema: QAPISchema, machine: ResolvedMachine, prog: string): void {
  const options = op.args as Record<string, string>;
  const notModelled: (what: string) => never = (what) =>
    fail(prog, op.location, `${what} is not modelled by qmpkit's fake QEMU (see the testkit README)`);
  for (const key of Object.keys(options)) {
    if (!(MODELLED_DRIVE_KEYS as readonly string[]).includes(key)) notModelled(`the -drive option '${key}'`);
  }
  const kind = options.if ?? (machine.family === "none" ? "none" : "ide");
  if (!DRIVE_INTERFACES.includes(kind)) fail(prog, op.location, `unsupported bus type '${kind}'`);
  const media = options.media ?? "disk";
  if (media !== "disk" && media !== "cdrom") fail(prog, op.location, `'${media}' invalid media`);
  if (kind === "virtio" && machine.family === "none") {
    fail(prog, op.location, "No 'PCI' bus found for device 'virtio-blk-pci'");
  }
  if (kind !== "none" && kind !== "virtio") {
    notModelled(`-drive if=${kind}${options.if === undefined ? " (the default on q35)" : ""}`);
  }
  const format = options.format;
  if (format !== undefined && format !== "raw" && format !== "qcow2") {
    if (!blockDrivers(schema).includes(format)) fail(prog, op.location, `Unknown driver '${format}'`);
    notModelled(`-drive format=${format}`);
  }
  const file = options.file;
  if (file === undefined) notModelled("a -drive without file= (an empty drive)");
  if (!existsSync(file)) fail(prog, op.location, `Could not open '${file}': No such file or directory`);
}

/** The block drivers this QEMU knows: blockdev-add's `driver` enum. */
function blockDrivers(schema: QAPISchema): string[] {
  const byName = new Map(schema.entries.map((entry) => [entry.name, entry]));
  const command = schema.command("blockdev-add");
  const args = command === undefined ? undefined : byName.get(command["arg-type"]);
  const member = args?.["meta-type"] === "object" ? args.members.find((m) => m.name === "driver") : undefined;
  const driverEnum = member === undefined ? undefined : byName.get(member.type);
  return driverEnum?.["meta-type"] === "enum" ? [...(driverEnum.values ?? [])] : [];
}

function commandOf(op: StartupOperation): string {
  return op.command === "audiodev" || op.command === "drive" ? op.command : op.command;
}

function cpuModels(catalogue: Catalogue): Set<string> {
  // 7.2 prefixes each model with its architecture ("x86 qemu64"); 10.0 indents it ("  qemu64").
  const names = [...catalogue.cpuHelp.matchAll(/^(?:x86 | {2})(\S+)/gm)].map((m) => m[1] as string);
  return new Set(names);
}

function deviceModels(catalogue: Catalogue): Set<string> {
  return new Set([...catalogue.deviceHelp.matchAll(/^name "([^"]+)"/gm)].map((m) => m[1] as string));
}
