/**
 * Legacy drives by name: HMP `drive_add`/`drive_del`, and the command line's `-drive` (QEMU's drive_new) through
 * {@link Drives.fromCommandLine}, both over {@link Block.addDrive}. Only `if=none` is hot-pluggable in QEMU 7.2;
 * the rest is refused with QEMU's texts (recorded), as are the errors of opening the image.
 */
import { QMPCommandError } from "../../errors.ts";
import type { JsonObject } from "../../types.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi } from "../types.ts";
import { Block } from "./block.ts";

// QEMU's BlockInterfaceType numbers, which its refusal prints (`if=` defaults to ide for drive_add).
const INTERFACE_TYPES = ["none", "ide", "scsi", "floppy", "pflash", "mtd", "sd", "virtio", "xen"];

/** Splits QEMU's `key=value,key=value` (`,,` is a literal comma). */
export function parseKeyval(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.replaceAll(",,", "\u0000").split(",")) {
    if (part === "") continue;
    const at = part.indexOf("=");
    const key = at < 0 ? part : part.slice(0, at);
    out.set(key, (at < 0 ? "on" : part.slice(at + 1)).replaceAll("\u0000", ","));
  }
  return out;
}

/** The `-drive` keys the fake models; QEMU accepts many more (cache, aio, index, …), the fake refuses them. */
export const MODELLED_DRIVE_KEYS = ["file", "format", "if", "id", "media", "readonly"] as const;

/** What the command line's `-drive` asks of the machine beyond the block layer. */
export interface CommandLineDrive {
  /** QEMU's probing warning (a raw image opened writable without `format=`), for stderr. */
  readonly warning?: string;
  /** `if=virtio`: the virtio-blk-pci QEMU adds after the command line's own `-device`s. */
  readonly device?: JsonObject;
}

export class Drives {
  static readonly provides: SubsystemProvides = PROVIDES.drives;

  readonly #vm: VmApi;
  /** Per interface, the next unit QEMU numbers a drive with no id (`virtio0`, `none1`). */
  readonly #units = new Map<string, number>();

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.hmp("drive_add", (words) => {
      const node = words[0] === "-n";
      const options = parseKeyval(words[node ? 2 : 1] ?? "");
      if (node) return "'node-name' needs to be specified\r\n";
      const kind = options.get("if") ?? "ide";
      if (kind !== "none")
        return `Can't hot-add drive to type ${Math.max(0, INTERFACE_TYPES.indexOf(kind))}\r\n`;
      try {
        vm.get(Block).addDrive({
          id: options.get("id") ?? "",
          file: options.get("file") ?? "",
          format: options.get("format"),
          readOnly: options.get("readonly") === "on",
        });
      } catch (error) {
        if (error instanceof QMPCommandError) return `${error.desc}\r\n`;
        throw error;
      }
      return "OK\r\n";
    });
    vm.hmp("drive_del", ([id = ""]) => {
      try {
        vm.get(Block).deleteDrive(id);
      } catch (error) {
        if (error instanceof QMPCommandError) return `${error.desc}\r\n`;
        throw error;
      }
      return "";
    });
  }

  /**
   * `-drive KEY=VALUE,…` as QEMU 7.2's drive_new builds it on q35 or none, for `if=none` (the default on none) and
   * `if=virtio`: a BlockBackend named `id` (else `none0`, `virtio0`, … per interface) over `#blockNNN` nodes, read-only
   * for `readonly=on` and for `media=cdrom`. The command line's checks (validate.ts) have run; what is left is
   * opening the image, with QEMU's errors.
   */
  fromCommandLine(options: Readonly<Record<string, string>>): CommandLineDrive {
    const kind = options.if ?? (this.#vm.machine.name === "none" ? "none" : "ide");
    if (kind !== "none" && kind !== "virtio") {
      throw new QMPCommandError("GenericError", `qmpkit fake: -drive if=${kind} is not modelled`);
    }
    const unit = this.#units.get(kind) ?? 0;
    this.#units.set(kind, unit + 1);
    const id = options.id ?? `${kind}${unit}`;
    const readOnly = options.readonly === "on" || options.media === "cdrom";
    const node = this.#vm
      .get(Block)
      .addDrive({ id, file: options.file ?? "", format: options.format, readOnly });
    const probedRaw = options.format === undefined && node.driver === "raw" && !readOnly;
    return {
      ...(probedRaw ? { warning: probingWarning(options.file ?? "") } : {}),
      ...(kind === "virtio" ? { device: { driver: "virtio-blk-pci", drive: id } } : {}),
    };
  }
}

function probingWarning(file: string): string {
  return (
    `WARNING: Image format was not specified for '${file}' and probing guessed raw.\n` +
    "         Automatically detecting the format is dangerous for raw images, write operations on block 0 will be restricted.\n" +
    "         Specify the 'raw' format explicitly to remove the restrictions.\n"
  );
}
