/**
 * `secret` objects (`-object secret,…` / object-add), which libvirt creates first on every domain's command line
 * (its master key), with QEMU's checks and texts (7.2 and 10.0 agree). No command reads a secret back and the
 * block layer's encrypted images are not modelled; a secret encrypted with another (`keyid` with a good key and
 * `iv`) is refused as not implemented, since the fake does not decrypt.
 */
import { QMPCommandError } from "../../errors.ts";
import { readFileSync } from "../../lazy-node.ts";
import { errnoText } from "../../strerror.ts";
import type { JsonObject } from "../../types.ts";
import { ObjectCompletionError, Objects } from "../objects.ts";
import { PROVIDES } from "../provides.ts";
import type { SubsystemProvides, VmApi } from "../types.ts";

// An AES-256 key: what QEMU wants a `keyid` secret to hold.
const KEY_BYTES = 32;

export class Secrets {
  static readonly provides: SubsystemProvides = PROVIDES.secrets;

  /** id → the secret's length in bytes. */
  readonly #lengths = new Map<string, number>();

  constructor(vm: VmApi) {
    vm.get(Objects).defineType("secret", {
      add: (id, args) => {
        this.#lengths.set(id, this.#load(args));
      },
      // Nothing holds a secret open, so it can always go.
      remove: (id) => {
        this.#lengths.delete(id);
        return true;
      },
    });
  }

  #load(args: JsonObject): number {
    const { data, file, keyid } = args;
    if (data !== undefined && file !== undefined)
      throw new ObjectCompletionError("GenericError", "'file' and 'data' are mutually exclusive");
    if (data === undefined && file === undefined)
      throw new ObjectCompletionError("GenericError", "Either 'file' or 'data' must be provided");
    const bytes = file !== undefined ? readSecretFile(String(file)) : encoded(String(data), args.format);
    if (keyid === undefined) return bytes;
    const key = this.#lengths.get(String(keyid));
    if (key === undefined)
      throw new ObjectCompletionError("GenericError", `No secret with id '${String(keyid)}'`);
    if (key !== KEY_BYTES)
      throw new ObjectCompletionError("GenericError", `Key should be ${KEY_BYTES} bytes in length`);
    if (args.iv === undefined)
      throw new ObjectCompletionError("GenericError", "IV is required to decrypt secret");
    throw new QMPCommandError("GenericError", "qmpkit fake: decrypting a secret (keyid) is not implemented");
  }
}

function encoded(data: string, format: unknown): number {
  return format === "base64" ? atob(data).length : new TextEncoder().encode(data).length;
}

function readSecretFile(path: string): number {
  try {
    return readFileSync(path).length;
  } catch (error) {
    throw new ObjectCompletionError(
      "GenericError",
      `Unable to read ${path}: Failed to open file “${path}”: ${errnoText(error)}`,
    );
  }
}
