/**
 * `qemu-system-x86_64`'s command line → an {@link EmulatorConfig}, failing as the chosen QEMU (7.2 or 10.0) fails. Two passes, as in
 * QEMU: the first only checks that every option exists and has its argument; the second reads each option in
 * order, checking what QEMU checks at that point (sizes, on/off values, parameter names, JSON syntax).
 * What QEMU checks later (machine type, CPU model, device models, backends) is `validate.ts`'s job.
 */
import type { CliDialect } from "./dialect.ts";
import { isQemuOption, MODELLED_OPTIONS, type OptionTable, takesArgument } from "./option-table.ts";
import {
  OptsSyntaxError,
  optsObject,
  optValue,
  type ParsedOpts,
  parseJsonOrKeyval,
  parseOpts,
} from "./qemu-opts.ts";

/** The process should end now: what to print and the exit status (`-version`, `-help`, a bad option). */
export class EmulatorExit extends Error {
  override readonly name = "EmulatorExit";
  constructor(
    readonly status: number,
    readonly stderr: string,
    readonly stdout = "",
  ) {
    super(stderr.trim() || stdout.trim() || `exit ${status}`);
  }
}

/** A monitor asked for on the command line. */
export interface MonitorSpec {
  /** The chardev it serves on. */
  readonly chardev: string;
  readonly mode: "control" | "readline";
  readonly pretty: boolean;
}

/** A chardev (`-chardev`, or the implicit ones of `-qmp`/`-monitor`/`-serial`). */
export interface ChardevSpec {
  readonly id: string;
  readonly backend: string;
  readonly options: Record<string, string>;
  /** The option as written, for QEMU's `-chardev …:` message prefix. */
  readonly location: string;
}

/** A backend or device to create at start, as the QMP command that hotplugs the same thing. */
export interface StartupOperation {
  readonly command: "object-add" | "blockdev-add" | "netdev_add" | "device_add" | "audiodev" | "drive";
  readonly args: Record<string, unknown>;
  /** Whether `args` came from JSON (typed) or from `key=value` (every value a string). */
  readonly json: boolean;
  readonly location: string;
}

/** What a command line asks for. */
export interface EmulatorConfig {
  machine: { type: string | undefined; props: Record<string, string> };
  /** In the order QEMU tries them; `location` is undefined for `-machine accel=` (QEMU then names no option). */
  accel: { name: string; props: Record<string, string>; location: string | undefined }[];
  cpu: string | undefined;
  memoryMiB: number;
  smp: { text: string; props: Record<string, string> } | undefined;
  name: string | undefined;
  uuid: string | undefined;
  startPaused: boolean;
  noShutdown: boolean;
  noReboot: boolean;
  daemonize: boolean;
  pidfile: string | undefined;
  msgTimestamp: boolean;
  nodefaults: boolean;
  display: string;
  incoming: string | undefined;
  chardevs: ChardevSpec[];
  monitors: MonitorSpec[];
  /** `-mon` options as written, resolved against `chardevs` once all are known. */
  monLocations: string[];
  operations: StartupOperation[];
  globals: Record<string, string>[];
  rtc: Record<string, string>;
  boot: Record<string, string>;
  /** QEMU's warnings, formatted, in the order QEMU prints them while reading the command line. */
  warnings: string[];
  /**
   * What QEMU prints once it is past reading the command line (accelerator fallback): `stamped` lines get the
   * `-msg timestamp=on` prefix, the others are printed as they are.
   */
  notices: { text: string; stamped: boolean }[];
  /** The accelerator QEMU ends up with (the first of `accel` that initialises), set by validateConfig. */
  accelerator: "tcg" | "kvm";
}

/** Parses `argv` (without the program name). Throws {@link EmulatorExit} for `-version`, `-help` and errors. */
export function parseCommandLine(argv: readonly string[], prog: string, texts: CliTexts): EmulatorConfig {
  checkOptionsExist(argv, prog, texts.options);
  const config: EmulatorConfig = {
    machine: { type: undefined, props: {} },
    accel: [],
    accelerator: "tcg",
    cpu: undefined,
    memoryMiB: 128,
    smp: undefined,
    name: undefined,
    uuid: undefined,
    startPaused: false,
    noShutdown: false,
    noReboot: false,
    daemonize: false,
    pidfile: undefined,
    msgTimestamp: false,
    nodefaults: false,
    display: "default",
    incoming: undefined,
    chardevs: [],
    monitors: [],
    monLocations: [],
    operations: [],
    globals: [],
    rtc: {},
    boot: {},
    warnings: [],
    notices: [],
  };
  let i = 0;
  while (i < argv.length) {
    const raw = argv[i] as string;
    i++;
    if (!raw.startsWith("-") || raw === "-") {
      fail(prog, undefined, `-hda ${raw}: the fake QEMU does not model disk images given without an option`);
    }
    const name = raw.replace(/^--?/, "");
    const arg = takesArgument(texts.options, name) ? (argv[i++] as string) : undefined;
    const location = arg === undefined ? raw : `${raw} ${arg}`;
    try {
      readOption(config, name, arg ?? "", location, prog, texts);
    } catch (error) {
      // QEMU prints the warnings of the options read so far before the error that ends it.
      const earlier = config.warnings.join("");
      if (error instanceof OptsSyntaxError) {
        throw new EmulatorExit(1, `${earlier}${prog}: ${location}: ${error.message}\n`);
      }
      if (error instanceof EmulatorExit)
        throw new EmulatorExit(error.status, `${earlier}${error.stderr}`, error.stdout);
      throw error;
    }
  }
  return config;
}

/** What one QEMU generation prints for `-version`, `-help` and the `help` lists, its options, its wording. */
export interface CliTexts {
  readonly version: string;
  readonly help: string;
  readonly machineHelp: string;
  readonly accelHelp: string;
  readonly options: OptionTable;
  readonly dialect: CliDialect;
}

function checkOptionsExist(argv: readonly string[], prog: string, options: OptionTable): void {
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] as string;
    if (!raw.startsWith("-") || raw === "-") continue;
    const name = raw.replace(/^--?/, "");
    if (!isQemuOption(options, name)) fail(prog, raw, "invalid option");
    if (takesArgument(options, name)) {
      if (i + 1 >= argv.length) fail(prog, raw, "requires an argument");
      i++;
    }
  }
}

/** Ends with QEMU's `prog: location: message` (location omitted when QEMU prints none). */
export function fail(prog: string, location: string | undefined, message: string): never {
  const prefix = location === undefined ? `${prog}: ` : `${prog}: ${location}: `;
  throw new EmulatorExit(1, `${prefix}${message}\n`);
}

function warn(config: EmulatorConfig, prog: string, location: string, opts: ParsedOpts): void {
  for (const warning of opts.warnings) config.warnings.push(`${prog}: ${location}: ${warning}\n`);
}

function onOff(value: string | undefined, key: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "on" || value === "yes" || value === "true" || value === "y") return true;
  if (value === "off" || value === "no" || value === "false" || value === "n") return false;
  throw new OptsSyntaxError(`Parameter '${key}' expects 'on' or 'off'`);
}

/** QemuOpts' check of a closed parameter list: the first unknown key is "Invalid parameter". */
function onlyKeys(opts: ParsedOpts, allowed: readonly string[]): void {
  for (const entry of opts.entries) {
    if (!allowed.includes(entry.key)) throw new OptsSyntaxError(`Invalid parameter '${entry.key}'`);
  }
}

function readOption(
  config: EmulatorConfig,
  name: string,
  arg: string,
  location: string,
  prog: string,
  texts: CliTexts,
): void {
  switch (name) {
    case "h":
    case "help":
      throw new EmulatorExit(
        0,
        "",
        texts.help.replaceAll("qemu-system-x86_64 [options]", `${prog} [options]`),
      );
    case "version":
      throw new EmulatorExit(0, "", texts.version);
    case "M":
    case "machine": {
      const opts = parseOpts(arg, "type");
      if (opts.help && opts.entries.length === 0) throw new EmulatorExit(0, "", texts.machineHelp);
      if (opts.help)
        fail(prog, location, "the fake QEMU does not list machine properties (-machine TYPE,help)");
      warn(config, prog, location, opts);
      for (const entry of opts.entries) {
        if (entry.key === "type") config.machine.type = entry.value;
        else if (entry.key === "accel") {
          for (const accel of entry.value.split(":"))
            config.accel.push({ name: accel, props: {}, location: undefined });
        } else config.machine.props[entry.key] = entry.value;
      }
      return;
    }
    case "enable-kvm":
      config.accel.push({ name: "kvm", props: {}, location });
      return;
    case "accel": {
      const opts = parseOpts(arg, "accel");
      if (opts.help) throw new EmulatorExit(0, "", texts.accelHelp);
      warn(config, prog, location, opts);
      const props = optsObject(opts);
      const accel = props.accel ?? "";
      if (accel !== "tcg" && accel !== "kvm") fail(prog, location, `invalid accelerator ${accel}`);
      const thread = props.thread;
      if (thread !== undefined && thread !== "single" && thread !== "multi") {
        fail(prog, location, `Invalid 'thread' setting ${thread}`);
      }
      delete props.accel;
      config.accel.push({ name: accel, props, location });
      return;
    }
    case "cpu":
      if (arg === "help") fail(prog, location, "the fake QEMU does not list CPU models (-cpu help)");
      config.cpu = arg;
      return;
    case "m": {
      const opts = parseOpts(arg, "size");
      warn(config, prog, location, opts);
      const size = optValue(opts, "size");
      if (size !== undefined) config.memoryMiB = parseMemorySize(size);
      return;
    }
    case "smp": {
      const opts = parseOpts(arg, "cpus");
      warn(config, prog, location, opts);
      config.smp = { text: arg, props: optsObject(opts) };
      return;
    }
    case "name": {
      const opts = parseOpts(arg, "guest");
      onlyKeys(opts, ["guest", "process", "debug-threads"]);
      onOff(optValue(opts, "debug-threads"), "debug-threads");
      warn(config, prog, location, opts);
      config.name = optValue(opts, "guest");
      return;
    }
    case "uuid":
      if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(arg)) {
        fail(prog, location, "failed to parse UUID string: wrong format");
      }
      config.uuid = arg.toLowerCase();
      return;
    case "msg": {
      const opts = parseOpts(arg);
      onlyKeys(opts, ["timestamp", "guest-name"]);
      warn(config, prog, location, opts);
      config.msgTimestamp = onOff(optValue(opts, "timestamp"), "timestamp") ?? config.msgTimestamp;
      onOff(optValue(opts, "guest-name"), "guest-name");
      return;
    }
    case "sandbox": {
      const opts = parseOpts(arg, "enable");
      onOff(optValue(opts, "enable"), "enable");
      onlyKeys(opts, ["enable", "obsolete", "elevateprivileges", "spawn", "resourcecontrol"]);
      warn(config, prog, location, opts);
      return;
    }
    case "overcommit": {
      const opts = parseOpts(arg);
      onlyKeys(opts, ["mem-lock", "cpu-pm"]);
      const memLock = texts.dialect.memLock;
      const lock = optValue(opts, "mem-lock");
      if (memLock === undefined) onOff(lock, "mem-lock");
      else if (lock !== undefined && !memLock.values.includes(lock))
        throw new OptsSyntaxError(memLock.refused);
      onOff(optValue(opts, "cpu-pm"), "cpu-pm");
      warn(config, prog, location, opts);
      return;
    }
    case "rtc": {
      const opts = parseOpts(arg);
      onlyKeys(opts, ["base", "clock", "driftfix"]);
      warn(config, prog, location, opts);
      config.rtc = optsObject(opts);
      return;
    }
    case "boot": {
      const opts = parseOpts(arg, "order");
      onlyKeys(opts, ["order", "once", "menu", "splash", "splash-time", "reboot-timeout", "strict"]);
      onOff(optValue(opts, "menu"), "menu");
      onOff(optValue(opts, "strict"), "strict");
      warn(config, prog, location, opts);
      config.boot = optsObject(opts);
      return;
    }
    case "global": {
      const opts = parseOpts(arg);
      warn(config, prog, location, opts);
      const [first] = opts.entries;
      if (first?.key.includes(".")) {
        const dot = first.key.indexOf(".");
        config.globals.push({
          driver: first.key.slice(0, dot),
          property: first.key.slice(dot + 1),
          value: first.value,
        });
        return;
      }
      onlyKeys(opts, ["driver", "property", "value"]);
      config.globals.push(optsObject(opts));
      return;
    }
    case "incoming":
      config.incoming = checkIncoming(arg);
      return;
    case "pidfile":
      config.pidfile = arg;
      return;
    case "daemonize":
      config.daemonize = true;
      return;
    case "S":
      config.startPaused = true;
      return;
    case "no-shutdown":
      config.noShutdown = true;
      return;
    case "no-reboot":
      config.noReboot = true;
      return;
    case "no-acpi":
      // 7.2's spelling of -machine acpi=off (10.0 dropped the option).
      config.machine.props.acpi = "off";
      return;
    case "nodefaults":
      config.nodefaults = true;
      return;
    case "no-user-config":
      return;
    case "nographic":
      config.display = "none";
      return;
    case "display": {
      const opts = parseOpts(arg, "type");
      const type = optValue(opts, "type") ?? "";
      if (!DISPLAY_TYPES.includes(type))
        throw new OptsSyntaxError(`Parameter 'type' does not accept value '${type}'`);
      const extra = opts.entries.find((entry) => entry.key !== "type");
      if (type === "none" && extra !== undefined)
        throw new OptsSyntaxError(`Parameter '${extra.key}' is unexpected`);
      config.display = type;
      return;
    }
    case "vnc":
      config.display = checkVnc(arg, location, prog);
      return;
    case "vga":
      if (arg !== "none") fail(prog, location, "the fake QEMU models no display adapter: use -vga none");
      return;
    case "qmp":
    case "qmp-pretty":
    case "monitor":
    case "serial":
    case "parallel": {
      const chardev = implicitChardev(config, name, arg, location, prog);
      if (chardev !== undefined && (name === "qmp" || name === "qmp-pretty" || name === "monitor")) {
        config.monitors.push({
          chardev,
          mode: name === "monitor" ? "readline" : "control",
          pretty: name === "qmp-pretty",
        });
      }
      return;
    }
    case "chardev": {
      const opts = parseOpts(arg, "backend");
      warn(config, prog, location, opts);
      const options = optsObject(opts);
      const backend = options.backend ?? "";
      const id = options.id;
      if (id === undefined) fail(prog, location, "chardev: no id specified");
      delete options.backend;
      delete options.id;
      addChardev(config, { id, backend, options, location }, prog);
      return;
    }
    case "mon": {
      const opts = parseOpts(arg, "chardev");
      onlyKeys(opts, ["mode", "chardev", "pretty", "id"]);
      const mode = optValue(opts, "mode") ?? "readline";
      if (mode !== "readline" && mode !== "control") {
        throw new OptsSyntaxError(`Parameter 'mode' does not accept value '${mode}'`);
      }
      const pretty = onOff(optValue(opts, "pretty"), "pretty") ?? false;
      const chardev = optValue(opts, "chardev") ?? "";
      config.monLocations.push(location);
      config.monitors.push({ chardev, mode, pretty });
      return;
    }
    case "object":
      config.operations.push(operation("object-add", arg, "qom-type", location));
      return;
    case "device":
      config.operations.push(operation("device_add", arg, "driver", location));
      return;
    case "blockdev":
      config.operations.push(operation("blockdev-add", arg, undefined, location));
      return;
    case "netdev":
      config.operations.push(operation("netdev_add", arg, "type", location));
      return;
    case "audiodev":
      config.operations.push(operation("audiodev", arg, "driver", location));
      return;
    case "drive": {
      const opts = parseOpts(arg);
      warn(config, prog, location, opts);
      const args = optsObject(opts);
      // QemuOpts refuses a second id in the option list as it reads it, before any drive is opened.
      const id = args.id;
      if (id !== undefined && config.operations.some((op) => op.command === "drive" && op.args.id === id)) {
        throw new OptsSyntaxError(`Duplicate ID '${String(id)}' for drive`);
      }
      config.operations.push({ command: "drive", args, json: false, location });
      return;
    }
    default:
      if (!MODELLED_OPTIONS.includes(name)) {
        fail(
          prog,
          location,
          "not modelled by qmpkit's fake QEMU (see the testkit README for the options it accepts)",
        );
      }
  }
}

const DISPLAY_TYPES = ["none", "gtk", "sdl", "curses", "egl-headless", "vnc", "dbus", "spice-app", "default"];

function operation(
  command: StartupOperation["command"],
  arg: string,
  impliedKey: string | undefined,
  location: string,
): StartupOperation {
  const { object, json } = parseJsonOrKeyval(arg, impliedKey);
  return { command, args: object, json, location };
}

/** `-m` sizes: a bare number is MiB; suffixes as QEMU's `qemu_strtosz_MiB`. */
function parseMemorySize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kKmMgGtTpPeE]?)[bB]?$/.exec(text);
  if (match === null) {
    throw new OptsSyntaxError(
      "Parameter 'size' expects a non-negative number below 2^64\nOptional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.",
    );
  }
  const value = Number(match[1]);
  const unit = (match[2] ?? "").toLowerCase();
  const scale: Record<string, number> = {
    "": 1,
    k: 1 / 1024,
    m: 1,
    g: 1024,
    t: 1024 ** 2,
    p: 1024 ** 3,
    e: 1024 ** 4,
  };
  return value * (scale[unit] ?? 1);
}

function checkIncoming(uri: string): string {
  if (uri === "defer") return uri;
  const colon = uri.indexOf(":");
  const scheme = colon < 0 ? uri : uri.slice(0, colon);
  const rest = colon < 0 ? "" : uri.slice(colon + 1);
  if (scheme === "tcp" && !/^(\[[^\]]*\]|[^:]*):\d+/.test(rest)) {
    throw new OptsSyntaxError(`error parsing address '${rest}'`);
  }
  if (!["tcp", "unix", "exec", "fd", "rdma"].includes(scheme))
    throw new OptsSyntaxError(`unknown migration protocol: ${uri}`);
  return uri;
}

function checkVnc(arg: string, location: string, prog: string): string {
  const opts = parseOpts(arg, "vnc");
  const display = optValue(opts, "vnc") ?? "";
  if (display === "none" || display.startsWith("unix:")) return "vnc";
  const match = /^(.*):(\d+)$/.exec(display);
  if (match === null) fail(prog, location, `Failed to parse VNC display '${display}'`);
  const host = match[1] ?? "";
  if (host !== "" && host !== "localhost" && !/^[\d.]+$/.test(host) && !host.startsWith("[")) {
    fail(
      prog,
      location,
      `address resolution failed for ${host}:${5900 + Number(match[2])}: Name or service not known`,
    );
  }
  return "vnc";
}

/** `-qmp unix:PATH,server=on,wait=off` and kin: QEMU's `qemu_chr_parse_compat` turned into a chardev. */
function implicitChardev(
  config: EmulatorConfig,
  option: string,
  arg: string,
  location: string,
  prog: string,
): string | undefined {
  if (arg === "none") return undefined;
  const index = config.chardevs.filter((c) => c.id.startsWith("compat_monitor")).length;
  const id =
    option === "serial"
      ? `serial${config.chardevs.length}`
      : option === "parallel"
        ? "parallel0"
        : `compat_monitor${index}`;
  if (arg.startsWith("chardev:")) return arg.slice("chardev:".length);
  const comma = arg.indexOf(",");
  const head = comma < 0 ? arg : arg.slice(0, comma);
  const tail = comma < 0 ? "" : arg.slice(comma + 1);
  const options = optsObject(parseOpts(tail));
  let backend: string;
  if (head.startsWith("unix:")) {
    backend = "socket";
    options.path = head.slice("unix:".length);
  } else if (head.startsWith("tcp:")) {
    backend = "socket";
    const hostPort = head.slice("tcp:".length);
    const colon = hostPort.lastIndexOf(":");
    options.host = hostPort.slice(0, colon);
    options.port = hostPort.slice(colon + 1);
  } else if (head === "stdio" || head === "pty" || head === "null" || head === "vc") {
    backend = head;
  } else {
    throw new EmulatorExit(
      1,
      `${prog}: ${location}: '${arg}' is not a valid char driver\n${prog}: ${location}: parse error: ${arg}\n`,
    );
  }
  addChardev(config, { id, backend, options, location }, prog);
  return id;
}

function addChardev(config: EmulatorConfig, spec: ChardevSpec, prog: string): void {
  if (config.chardevs.some((c) => c.id === spec.id))
    fail(prog, spec.location, `Duplicate ID '${spec.id}' for chardev`);
  config.chardevs.push(spec);
}
