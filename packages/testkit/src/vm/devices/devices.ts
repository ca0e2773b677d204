/**
 * Devices: `device_add`/`device_del` with QEMU 7.2's checks in its order (driver, bus, hotplug, id, properties,
 * then realize: PCI placement, the drive, one balloon), devices at `/machine/peripheral/<id>` or
 * `/machine/peripheral-anon/device[N]` with the QOM view recorded from real QEMU for their type, `query-pci` as
 * QEMU shows it before the firmware ran, and unplugs that complete only when the guest acknowledges them
 * (`fake.guest.ackUnplugs()`), with QEMU's DEVICE_DELETED events.
 *
 * Devices given on the command line (created before any client, `fake.runAtStart`) are cold-plugged:
 * `hotplugged` false, and those on pcie.0 can never be unplugged.
 */

import { QMPCommandError } from "../../errors.ts";
import type { JsonObject } from "../../types.ts";
import { Block } from "../block/block.ts";
import { Migration } from "../migration.ts";
import { PROVIDES } from "../provides.ts";
import { Balloon } from "../registries/balloon.ts";
import { type Chardev, Chardevs } from "../registries/chardevs.ts";
import { Display } from "../registries/display.ts";
import { Runstate } from "../runstate.ts";
import type { SubsystemProvides, VmApi, VmCommandContext } from "../types.ts";
import { type Bus, type BusKind, ownBus, type Plugged, placePci } from "./buses.ts";
import { type RecordedType, recordedTypes } from "./catalogue.ts";
import { Cpus } from "./cpus.ts";
import { hmpText, PERIPHERAL, PERIPHERAL_ANON, Qom } from "./qom.ts";

/** How long a PCIe unplug request stays "in process" in a running VM (QEMU's 5 s attention-button window). */
const UNPLUG_REQUEST_EXPIRES_MS = 5000;
const DEFAULT_MAC_PREFIX = "52:54:00:12:34:";
const DEFAULT_MAC_FIRST = 0x56;
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** One device in the VM. */
export interface Device extends Plugged {
  readonly type: RecordedType;
  readonly path: string;
  readonly bus: Bus;
  /** Its PCI devfn, or its position on a non-PCI bus. */
  readonly slot: number;
  readonly hotplugged: boolean;
  /** Its own bus (a root port's, a SCSI controller's), if it has one. */
  readonly ownBus: Bus | undefined;
  /** The block node its `drive` names, if any. */
  readonly drive: string | undefined;
  /** The netdev its `netdev` names, if any. */
  readonly netdev: string | undefined;
  /** The chardev its `chardev` names (a serial port's), which it holds open. */
  readonly chardev: Chardev | undefined;
  /** A NIC's MAC address: given, or QEMU's first free default (52:54:00:12:34:56 upwards). */
  readonly mac: string | undefined;
  /** When a pending unplug request lapses (clock ms), or undefined while none is pending. */
  unplugExpires: number | undefined;
}

/** Which netdevs exist (`netdev_add`), as far as devices need to know. */
export interface NetdevLookup {
  has(id: string): boolean;
}

// Devices that give the VM a console (screendump's subject).
const DISPLAY_DRIVERS = new Set(["VGA", "virtio-vga", "qxl-vga", "cirrus-vga", "bochs-display", "ramfb"]);

export class Devices {
  static readonly provides: SubsystemProvides = PROVIDES.devices;

  readonly #vm: VmApi;
  // Read on the first device_add: decompressing the recordings is most of a fake's start-up, and few sessions
  // add a device.
  #recorded: Map<string, RecordedType> | undefined;
  readonly #buses = new Map<string, Bus>();
  readonly #devices = new Map<string, Device>();
  readonly #unplugListeners: ((device: Device) => void)[] = [];
  #anonCount = 0;
  #netdevs: NetdevLookup | undefined;

  #types(): Map<string, RecordedType> {
    this.#recorded ??= recordedTypes(this.#vm.machine.qemuVersion);
    return this.#recorded;
  }

  constructor(vm: VmApi) {
    this.#vm = vm;
    const root: Bus = {
      name: "pcie.0",
      path: "/machine/q35/pcie.0",
      kind: "PCIE",
      hotpluggable: false,
      belowRootPort: false,
      slots: new Map(),
    };
    if (vm.machine.name === "q35") {
      // The board's own functions (host bridge, LPC, SATA, SMBus) as the profile's query-pci shows them.
      for (const entry of this.#boardPci()) {
        root.slots.set(entry.slot * 8 + entry.function, {
          driver: String(entry.class_info.desc),
          id: undefined,
        });
      }
      this.#buses.set(root.name, root);
      // The LPC bridge's ISA bus (serial ports): cold-plug only.
      this.#buses.set("isa.0", {
        name: "isa.0",
        path: "/machine/unattached/device[2]/isa.0",
        kind: "ISA",
        hotpluggable: false,
        belowRootPort: false,
        slots: new Map(),
      });
    }
    vm.command("device_add", (args, ctx) => this.add(args, ctx));
    vm.command("device_del", (args, ctx) => this.#delete(String(args.id), ctx));
    vm.command("query-pci", () => this.#queryPci());
    vm.hmp("device_add", (words, ctx) => hmpText(() => this.#hmpAdd(words.join(" "), ctx)));
    vm.hmp("device_del", (words, ctx) =>
      hmpText(() => {
        this.#delete(words[0] ?? "", ctx);
        return "";
      }),
    );
    vm.command("query-memory-devices", () => []);
  }

  /** The device with this id, if any. */
  byId(id: string): Device | undefined {
    return this.#devices.get(`${PERIPHERAL}/${id}`);
  }

  /** Every device, in creation order. */
  list(): Device[] {
    return [...this.#devices.values()];
  }

  /**
   * Lets device_add check a NIC's `netdev` against the netdevs that exist (the registries model registers this;
   * without it any name is taken).
   */
  useNetdevs(lookup: NetdevLookup): void {
    this.#netdevs = lookup;
  }

  #checkNetdev(netdev: string, owner: string): void {
    if (this.#netdevs !== undefined && !this.#netdevs.has(netdev)) {
      throw new QMPCommandError("GenericError", `Property '${owner}.netdev' can't find value '${netdev}'`);
    }
    if (this.list().some((device) => device.netdev === netdev)) {
      throw new QMPCommandError(
        "GenericError",
        `Property '${owner}.netdev' can't take value '${netdev}', it's in use`,
      );
    }
  }

  /** QEMU's migration_is_idle() turned round: an outgoing migration is under way. */
  #migrating(): boolean {
    return ["setup", "active", "device", "cancelling"].includes(this.#vm.get(Migration).status);
  }

  /** QEMU's default MAC for a NIC given none: the first of 52:54:00:12:34:56… no NIC uses. */
  #freeMac(): string {
    const used = new Set(
      this.list()
        .map((device) => device.mac)
        .filter((mac) => mac?.startsWith(DEFAULT_MAC_PREFIX))
        .map((mac) => Number.parseInt((mac as string).slice(DEFAULT_MAC_PREFIX.length), 16)),
    );
    let last = DEFAULT_MAC_FIRST;
    while (used.has(last) && last < 0xff) last++;
    return `${DEFAULT_MAC_PREFIX}${last.toString(16).padStart(2, "0")}`;
  }

  /** Calls `listener` when a guest OS would be asked to release a device (a PCIe unplug request). */
  onUnplugRequest(listener: (device: Device) => void): void {
    this.#unplugListeners.push(listener);
  }

  /** The guest released `device`: it goes, with QEMU's DEVICE_DELETED events. */
  completeUnplug(device: Device): void {
    if (!this.#devices.has(device.path)) return;
    this.#remove(device);
  }

  add(args: JsonObject, ctx: VmCommandContext): Record<string, never> {
    try {
      return this.#add(args, ctx);
    } catch (error) {
      // A command-line device the model cannot build yet (an ISA serial port, a type not recorded) is reported in
      // fake.errors and left out, so a VM manager's start-up goes on; a client's device_add gets the refusal.
      const notModelled = error instanceof QMPCommandError && error.desc.startsWith("qmpkit fake:");
      if (ctx.client === 0 && notModelled) return {};
      throw error;
    }
  }

  #add(args: JsonObject, ctx: VmCommandContext): Record<string, never> {
    const cold = ctx.client === 0;
    const driver = String(args.driver);
    const cpus = this.#vm.get(Cpus);
    const ancestors = this.#checkDriver(driver);
    if (cpus.isCpuType(driver)) cpus.refuse(args);
    const bus = this.#findBus(driver, busKindOf(ancestors), args.bus, ctx);
    if (!cold && !bus.hotpluggable) {
      throw new QMPCommandError("GenericError", `Bus '${bus.name}' does not support hotplugging`);
    }
    if (!cold && this.#migrating()) {
      throw new QMPCommandError("GenericError", "device_add not allowed while migrating");
    }
    const id = args.id === undefined ? undefined : String(args.id);
    // QEMU 7.2 wants an identifier; 10.0 takes any id from JSON device_add.
    if (id !== undefined && this.#vm.machine.qemuVersion === "7.2" && !IDENTIFIER.test(id)) {
      throw new QMPCommandError("GenericError", "Parameter 'id' expects an identifier");
    }
    if (id !== undefined && this.#vm.get(Qom).hasPeripheral(id)) {
      throw new QMPCommandError("GenericError", `Duplicate device ID '${id}'`);
    }
    const known = this.#propertyNames(driver);
    for (const name of Object.keys(args)) {
      if (name === "driver" || name === "bus" || name === "id") continue;
      if (known !== undefined && !known.has(name)) {
        throw new QMPCommandError("GenericError", `Property '${driver}.${name}' not found`);
      }
      if (name === "netdev")
        this.#checkNetdev(String(args.netdev), this.#types().get(driver)?.backendType ?? driver);
    }
    const type = this.#types().get(driver);
    if (type === undefined)
      this.#vm.unimplemented(ctx, `device_add of '${driver}' (its QOM view was not recorded)`);
    const slot =
      bus.kind === "PCIE"
        ? placePci(bus, driver, args.addr, !cold, this.#vm.machine.qemuVersion !== "7.2")
        : Math.max(-1, ...bus.slots.keys()) + 1;
    if (driver === "virtio-balloon-pci" && this.list().some((d) => d.driver === driver)) {
      throw new QMPCommandError("GenericError", "Only one balloon device is supported");
    }
    const path = id === undefined ? `${PERIPHERAL_ANON}/device[${this.#anonCount++}]` : `${PERIPHERAL}/${id}`;
    const chardev = args.chardev === undefined ? undefined : this.#frontend(driver, String(args.chardev));
    const drive = this.#attachDrive(type, args, id, path);
    const isNic = type.recording.cold.nodes[""]?.get.mac !== undefined;
    const device: Device = {
      driver,
      id,
      type,
      path,
      bus,
      slot,
      hotplugged: !cold,
      ownBus: ownBus(driver, id, path),
      drive,
      chardev,
      netdev: args.netdev === undefined ? undefined : String(args.netdev),
      mac: isNic ? String(args.mac ?? this.#freeMac()) : undefined,
      unplugExpires: undefined,
    };
    bus.slots.set(slot, device);
    if (chardev !== undefined) chardev.frontendOpen = true;
    if (device.ownBus !== undefined) this.#buses.set(device.ownBus.name, device.ownBus);
    this.#devices.set(path, device);
    const nodes = type.nodes(path, id, !cold);
    this.#vm.get(Qom).mount(path, { type: driver, nodes, values: instanceValues(device, args, nodes) });
    // The registries model the balloon and the consoles; they learn of their devices here.
    if (driver === "virtio-balloon-pci") this.#vm.get(Balloon).attach(id ?? "");
    if (DISPLAY_DRIVERS.has(driver)) this.#vm.get(Display).attach(path);
    return {};
  }

  /** HMP `device_add driver,key=value,…`: the first item is the driver, values stay strings (qdev parses them). */
  #hmpAdd(line: string, ctx: VmCommandContext): string {
    const args: JsonObject = {};
    for (const [index, item] of line.split(",").entries()) {
      if (item === "") continue;
      const at = item.indexOf("=");
      if (at < 0 && index === 0) args.driver = item;
      else if (at < 0) args[item] = "on";
      else args[item.slice(0, at)] = item.slice(at + 1);
    }
    if (args.driver === undefined) throw new QMPCommandError("GenericError", "Parameter 'driver' is missing");
    this.add(args, ctx);
    return "";
  }

  /** QEMU's refusal of a driver that is no device it can create; else the type's ancestors, itself first. */
  #checkDriver(driver: string): string[] {
    const types = this.#vm.machine.profile?.types() ?? [];
    const byName = new Map(types.map((t) => [t.name, t]));
    const info = byName.get(driver);
    if (info === undefined) {
      throw new QMPCommandError("GenericError", `'${driver}' is not a valid device model name`);
    }
    const ancestors: string[] = [];
    for (let at: string | undefined = driver; at !== undefined; at = byName.get(at)?.parent)
      ancestors.push(at);
    if (!ancestors.includes("device")) {
      throw new QMPCommandError("GenericError", "Parameter 'driver' expects a device type");
    }
    if (info.abstract === true) {
      throw new QMPCommandError("GenericError", "Parameter 'driver' expects a non-abstract device type");
    }
    return ancestors;
  }

  #propertyNames(driver: string): Set<string> | undefined {
    const reply = this.#vm.machine.profile?.reply("device-list-properties", { typename: driver });
    if (reply?.kind !== "return") return undefined;
    return new Set((reply.value() as { name: string }[]).map((p) => p.name));
  }

  #findBus(driver: string, kind: BusKind | undefined, wanted: unknown, ctx: VmCommandContext): Bus {
    // A device on no bus (sysbus, memory devices): none is modelled beyond CPUs' refusals.
    if (kind === undefined) this.#vm.unimplemented(ctx, `device_add of '${driver}' (a device on no bus)`);
    const fits = (bus: Bus) => bus.kind === kind || (kind === "PCI" && bus.kind === "PCIE");
    if (wanted === undefined) {
      for (const bus of this.#buses.values()) if (fits(bus)) return bus;
      throw new QMPCommandError("GenericError", `No '${kind}' bus found for device '${driver}'`);
    }
    const bus = this.#buses.get(String(wanted));
    if (bus === undefined) throw new QMPCommandError("GenericError", `Bus '${String(wanted)}' not found`);
    if (!fits(bus))
      throw new QMPCommandError("GenericError", `Device '${driver}' can't go on ${bus.kind} bus`);
    return bus;
  }

  /** The chardev a device's `chardev` property names, refused with QEMU's text when there is none. */
  #frontend(driver: string, label: string): Chardev {
    const chardev = this.#vm.get(Chardevs).get(label);
    if (chardev === undefined) {
      // isa-serial's property belongs to the serial object inside it, which QEMU's text names.
      const owner = driver === "isa-serial" ? "serial" : driver;
      throw new QMPCommandError("GenericError", `Property '${owner}.chardev' can't find value '${label}'`);
    }
    return chardev;
  }

  #attachDrive(
    type: RecordedType,
    args: JsonObject,
    id: string | undefined,
    path: string,
  ): string | undefined {
    const needsDrive = type.recording.cold.nodes[""]?.get.drive !== undefined;
    if (!needsDrive) return undefined;
    if (args.drive === undefined) throw new QMPCommandError("GenericError", "drive property not set");
    const drive = String(args.drive);
    const backend = type.backendType;
    // The BlockBackend's owner: a virtio proxy's inner device, named by path; any other device by its id.
    const qdev = backend !== undefined ? `${path}/virtio-backend` : (id ?? path);
    this.#vm.get(Block).attach(drive, { qdev, device: "" }, `${backend ?? type.name}.drive`);
    return drive;
  }

  #delete(id: string, ctx: VmCommandContext): Record<string, never> {
    const device = this.#find(id);
    if (device.unplugExpires !== undefined && device.unplugExpires > this.#vm.clock.now()) {
      throw new QMPCommandError("GenericError", `Device ${id} is already in the process of unplug`);
    }
    if (!device.bus.hotpluggable) {
      throw new QMPCommandError("GenericError", `Bus '${device.bus.name}' does not support hotplugging`);
    }
    if (this.#migrating())
      throw new QMPCommandError("GenericError", "device_del not allowed while migrating");
    if (device.bus.kind !== "PCIE") {
      // SCSI, USB and virtio-serial unplug at once; QEMU frees the device (and sends its event) just after.
      this.#vm.get(Qom).unmount(device.path);
      ctx.afterReply(() => this.#remove(device));
      return {};
    }
    // A PCIe unplug is a request to the guest, which no guest OS answers here unless a test plays one. The
    // request stays "in process" while the VM's clock stands still (prelaunch, paused), then lapses after 5 s.
    device.unplugExpires = this.#vm.get(Runstate).running
      ? this.#vm.clock.now() + UNPLUG_REQUEST_EXPIRES_MS
      : Number.POSITIVE_INFINITY;
    for (const listener of this.#unplugListeners) listener(device);
    return {};
  }

  #find(id: string): Device {
    if (!id.startsWith("/")) {
      const device = this.byId(id);
      if (device === undefined) throw new QMPCommandError("DeviceNotFound", `Device '${id}' not found`);
      return device;
    }
    const device = this.#devices.get(id);
    if (device !== undefined) return device;
    for (const other of this.#devices.values()) {
      if (id === `${other.path}/virtio-backend` && other.type.backendType !== undefined) {
        throw new QMPCommandError("GenericError", "Bus 'virtio-bus' does not support hotplugging");
      }
    }
    if (this.#vm.get(Qom).has(id)) {
      const what = this.#vm.machine.qemuVersion === "7.2" ? "a hotpluggable device" : "a device";
      throw new QMPCommandError("GenericError", `${id} is not ${what}`);
    }
    throw new QMPCommandError("DeviceNotFound", `Device '${id}' not found`);
  }

  /** Unplugs `device` and what is plugged into it, children first, as QEMU finalizes them. */
  #remove(device: Device): void {
    if (device.ownBus !== undefined) {
      for (const child of [...device.ownBus.slots.values()]) this.#remove(child as Device);
      this.#buses.delete(device.ownBus.name);
    }
    device.bus.slots.delete(device.slot);
    if (device.chardev !== undefined) device.chardev.frontendOpen = false;
    this.#devices.delete(device.path);
    if (device.driver === "virtio-balloon-pci") this.#vm.get(Balloon).detach();
    if (DISPLAY_DRIVERS.has(device.driver)) this.#vm.get(Display).detach(device.path);
    this.#vm.get(Qom).unmount(device.path);
    if (device.drive !== undefined) {
      const qdev =
        device.type.backendType !== undefined ? `${device.path}/virtio-backend` : (device.id ?? device.path);
      this.#vm.get(Block).detach(qdev);
    }
    if (device.type.backendType !== undefined) {
      this.#vm.emit("DEVICE_DELETED", { path: `${device.path}/virtio-backend` });
    }
    this.#vm.emit(
      "DEVICE_DELETED",
      device.id === undefined ? { path: device.path } : { device: device.id, path: device.path },
    );
  }

  #boardPci(): { slot: number; function: number; class_info: { desc: string } }[] {
    const recorded = this.#vm.machine.profile?.reply("query-pci");
    if (recorded?.kind !== "return") return [];
    const [bus] = recorded.value() as {
      devices: { slot: number; function: number; class_info: { desc: string } }[];
    }[];
    return bus?.devices ?? [];
  }

  /**
   * query-pci before the firmware ran (the flows keep the VM in prelaunch): devices behind a root port are not
   * listed, since no bus number was assigned yet (`secondary` 0), and no BAR has an address.
   */
  #queryPci(): unknown {
    const recorded = this.#vm.machine.profile?.reply("query-pci");
    if (recorded?.kind !== "return") return [];
    const buses = recorded.value() as { bus: number; devices: Record<string, unknown>[] }[];
    const root = this.#buses.get("pcie.0");
    const board = buses[0]?.devices ?? [];
    const entries: { devfn: number; entry: Record<string, unknown> }[] = board.map((entry) => ({
      devfn: (entry.slot as number) * 8 + (entry.function as number),
      entry,
    }));
    for (const device of this.#devices.values()) {
      if (device.bus !== root) continue;
      const entry = device.type.pciEntry;
      if (entry === undefined) continue;
      entries.push({
        devfn: device.slot,
        entry: { ...entry, qdev_id: device.id ?? "", slot: device.slot >> 3, function: device.slot & 7 },
      });
    }
    entries.sort((a, b) => a.devfn - b.devfn);
    return [{ ...buses[0], devices: entries.map((e) => e.entry) }];
  }
}

/** The bus type a device of these QOM ancestors plugs into (QEMU's `bus_type`), if any. */
function busKindOf(ancestors: readonly string[]): BusKind | undefined {
  if (ancestors.includes("pci-device")) return "PCI";
  if (ancestors.includes("scsi-device")) return "SCSI";
  if (ancestors.includes("usb-device")) return "usb-bus";
  if (ancestors.includes("virtio-serial-port")) return "virtio-serial-bus";
  if (ancestors.includes("isa-device")) return "ISA";
  return undefined;
}

/** The live values of a new device's own properties: what it was created with, where it sits. */
function instanceValues(
  device: Device,
  args: JsonObject,
  nodes: ReturnType<RecordedType["nodes"]>,
): Map<string, unknown> {
  const values = new Map<string, unknown>();
  const root = nodes.get("");
  const types = new Map(
    (root === undefined
      ? []
      : (JSON.parse(root.list) as { return: { name: string; type: string }[] }).return
    ).map((p) => [p.name, p.type]),
  );
  values.set("parent_bus", device.bus.path);
  values.set("hotplugged", device.hotplugged);
  if (types.has("addr")) values.set("addr", device.slot);
  for (const [name, value] of Object.entries(args)) {
    if (name === "driver" || name === "bus" || name === "id" || name === "addr") continue;
    values.set(name, typed(types.get(name), value));
  }
  if (device.mac !== undefined) values.set("mac", device.mac);
  return values;
}

/** A property value as qom-get shows it: `-device key=value` gives strings, qdev parses them per type. */
function typed(type: string | undefined, value: unknown): unknown {
  if (typeof value !== "string" || type === undefined) return value;
  if (type === "bool") return value === "on" || value === "true" || value === "yes";
  if (/^u?int(8|16|32|64)?$/.test(type)) {
    const number = Number(value);
    return Number.isNaN(number) ? value : number;
  }
  return value;
}
