/**
 * `secret` objects (`-object secret,…` / object-add), which libvirt creates first on every domain's command line
 * (its master key). Only their checks are modelled, with QEMU 7.2's texts: no command reads a secret back, and
 * the block layer's encrypted images are not modelled.
 */
import { readFileSync } from "node:fs";
import { ObjectCompletionError, Objects } from "../objects.ts";
import type { VmApi } from "../types.ts";

export class Secrets {
  readonly #ids = new Set<string>();

  constructor(vm: VmApi) {
    vm.get(Objects).defineType("secret", {
      add: (id, args) => {
        const { data, file, keyid } = args;
        if (data !== undefined && file !== undefined)
          throw new ObjectCompletionError("GenericError", "'file' and 'data' are mutually exclusive");
        if (data === undefined && file === undefined)
          throw new ObjectCompletionError("GenericError", "Either 'file' or 'data' must be provided");
        if (file !== undefined) readSecretFile(String(file));
        // keyid names another secret that decrypts this one; it must exist already.
        if (keyid !== undefined && !this.#ids.has(String(keyid)))
          throw new ObjectCompletionError("GenericError", `No secret with id '${String(keyid)}'`);
        this.#ids.add(id);
      },
      remove: (id) => this.#ids.delete(id) || true,
    });
  }
}

function readSecretFile(path: string): void {
  try {
    readFileSync(path);
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === "ENOENT" ? "No such file or directory" : "Permission denied";
    throw new ObjectCompletionError(
      "GenericError",
      `Unable to read ${path}: Failed to open file “${path}”: ${reason}`,
    );
  }
}
