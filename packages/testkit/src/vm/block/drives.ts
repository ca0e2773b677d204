/**
 * Legacy drives by name: HMP `drive_add`/`drive_del`, and the same `-drive if=none` the emulator's command line
 * creates through {@link Block.addDrive}. Only `if=none` is hot-pluggable in QEMU 7.2; the rest is refused with
 * QEMU's texts (recorded), as are the errors of opening the image.
 */
import { QMPCommandError } from "../../errors.ts";
import type { VmApi } from "../types.ts";
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

export class Drives {
  constructor(vm: VmApi) {
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
}
