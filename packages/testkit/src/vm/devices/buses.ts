/**
 * The buses devices plug into, with QEMU's rules for placing a device on one: PCI slot/function assignment and
 * its errors (`do_pci_register_device` in QEMU 7.2), the bus kinds a device type accepts, and which devices bring
 * a bus of their own.
 */
import { QMPCommandError } from "../../errors.ts";

/** QEMU's bus type names, as its "can't go on … bus" error prints them. */
export type BusKind = "PCI" | "PCIE" | "SCSI" | "virtio-serial-bus" | "usb-bus" | "ISA";

/** Something plugged into a bus. */
export interface Plugged {
  readonly driver: string;
  readonly id: string | undefined;
}

export interface Bus {
  readonly name: string;
  /** Its QOM path (a device's `parent_bus`). */
  readonly path: string;
  readonly kind: BusKind;
  readonly hotpluggable: boolean;
  /** Behind a PCIe root port: one device at slot 0 as far as function 0 checks go. */
  readonly belowRootPort: boolean;
  /** devfn → what occupies it (PCI), or devices in plug order (others). */
  readonly slots: Map<number, Plugged>;
}

/** The bus a device of type `driver` with `id`, at `path`, brings with it. */
export function ownBus(driver: string, id: string | undefined, path: string): Bus | undefined {
  const name = id ?? path.slice(path.lastIndexOf("/") + 1);
  const bus = (kind: BusKind, busName: string, busPath: string, belowRootPort = false): Bus => ({
    name: busName,
    path: busPath,
    kind,
    hotpluggable: true,
    belowRootPort,
    slots: new Map(),
  });
  switch (driver) {
    case "pcie-root-port":
      return bus("PCIE", name, `${path}/${name}`, true);
    case "virtio-scsi-pci":
      return bus("SCSI", `${name}.0`, `${path}/virtio-backend/${name}.0`);
    case "virtio-serial-pci":
      return bus("virtio-serial-bus", `${name}.0`, `${path}/virtio-backend/${name}.0`);
    case "qemu-xhci":
      return bus("usb-bus", `${name}.0`, `${path}/${name}.0`);
    default:
      return undefined;
  }
}

const SLOT_FUNCTIONS = 8;
const DEVFNS = 256;

/** A PCI `addr` as qdev parses it: `"0x2.0x1"`, `"2.1"`, `"2"`, or a devfn number. */
export function parseDevfn(addr: unknown): number {
  if (typeof addr === "number") return addr;
  const text = String(addr);
  const [slotText, functionText] = text.split(".");
  const slot = Number.parseInt(slotText ?? "", 16);
  const fn = functionText === undefined ? 0 : Number.parseInt(functionText, 16);
  if (Number.isNaN(slot) || Number.isNaN(fn) || slot > 31 || fn > 7) {
    throw new QMPCommandError("GenericError", `Property 'addr' doesn't take value '${text}'`);
  }
  return slot * SLOT_FUNCTIONS + fn;
}

/**
 * Where on `bus` a PCI device goes (QEMU's slot search and refusals). QEMU 7.2 checks a hotplugged device against
 * its slot's function 0 only when the address was given; later QEMUs (10.0) also when they chose the slot, so a
 * root port takes a single hotplugged device.
 */
export function placePci(
  bus: Bus,
  driver: string,
  addr: unknown,
  hotplugged: boolean,
  checkChosenSlot: boolean,
): number {
  let devfn: number | undefined;
  if (addr === undefined) {
    for (let candidate = 0; candidate < DEVFNS && devfn === undefined; candidate += SLOT_FUNCTIONS) {
      if (!bus.slots.has(candidate)) devfn = candidate;
    }
    if (devfn === undefined) {
      throw new QMPCommandError(
        "GenericError",
        `PCI: no slot/function available for ${driver}, all in use or reserved`,
      );
    }
    if (!checkChosenSlot) return devfn;
  } else {
    devfn = parseDevfn(addr);
    const taken = bus.slots.get(devfn);
    if (taken !== undefined) {
      throw new QMPCommandError(
        "GenericError",
        `PCI: slot ${devfn >> 3} function ${devfn & 7} not available for ${driver}, in use by ${taken.driver},id=${taken.id ?? "(null)"}`,
      );
    }
  }
  const functionZero = bus.belowRootPort ? 0 : (devfn >> 3) * SLOT_FUNCTIONS;
  const first = bus.slots.get(functionZero);
  if (hotplugged && first !== undefined) {
    throw new QMPCommandError(
      "GenericError",
      `PCI: slot ${functionZero >> 3} function 0 already occupied by ${first.driver}, new func ${driver} cannot be exposed to guest.`,
    );
  }
  return devfn;
}
