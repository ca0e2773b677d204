/**
 * `loadProfile()`: what a real QEMU answered when recorded (see scripts/record-profile.ts), with accessors for
 * the parts a fake VM serves: the schema, the command list, the QOM types and tree, and any recorded reply by
 * command and arguments. Files are read on first use and cached per version and machine; each chunk of reply
 * texts is decompressed when a reply in it is first asked for (see `pack.ts`).
 */

import type { SchemaEntry } from "../dispatch/schema-args.ts";
import { SchemaText } from "../dispatch/schema-text.ts";
import type { QemuRelease } from "../qemu-10.ts";
import { RawJson } from "../qjson.ts";
import { MACHINES, type MachineName, PROFILE_FILES, PROFILE_VERSIONS } from "./files.ts";
import { SOCKET_PLACEHOLDER } from "./format.ts";
import { requestKey } from "./key.ts";
import { type PackedHeader, PackedProfile, type ProfileReader } from "./pack.ts";

/** Which profile to load. */
export interface ProfileSelector {
  /** @default "7.2" */
  qemuVersion?: QemuRelease;
  machine: MachineName;
}

/** A recorded reply: QEMU's `return` (its exact JSON text, parsed on demand) or its error. */
export type ProfileReply =
  | { readonly kind: "return"; readonly text: string; value(): unknown }
  | { readonly kind: "error"; readonly errorClass: string; readonly desc: string };

/** One QOM property as `qom-list` reports it. */
export interface QomPropertyInfo {
  name: string;
  type: string;
  description?: string;
  "default-value"?: unknown;
}

/** One object of the recorded QOM tree: its `qom-list` and the `qom-get` reply of each property. */
export interface QomNode {
  readonly path: string;
  readonly properties: readonly QomPropertyInfo[];
  /** `qom-get` replies by property name (errors included: a property may not be readable). */
  readonly values: ReadonlyMap<string, ProfileReply>;
  /** Paths of the `child<…>` properties, in `qom-list` order. */
  readonly children: readonly string[];
}

/** One entry of `qom-list-types`. */
export interface ObjectTypeInfo {
  name: string;
  abstract?: boolean;
  parent?: string;
}

/** `query-qmp-schema` returns by their text, shared by the profiles of one QEMU. */
const schemas = new Map<string, SchemaText>();
/** The same, for profiles packed with an index of the schema's entries: by the index's id (see `pack.ts`). */
const indexedSchemas = new Map<string, SchemaText>();

/** A recorded machine profile. Obtain one with {@link loadProfile}. */
export class MachineProfile {
  readonly #packed: PackedProfile;
  readonly #data: PackedHeader;
  readonly #parsed = new Map<number, ProfileReply>();
  #volatile: ReadonlySet<string> | undefined;
  #tree: Map<string, QomNode> | undefined;

  /** @internal Use {@link loadProfile}. */
  constructor(packed: PackedProfile) {
    this.#packed = packed;
    this.#data = packed.header;
  }

  /** The machine this profile stands for. */
  get machine(): string {
    return this.#data.machine;
  }

  /** QEMU's `major.minor.micro`, e.g. `"7.2.22"`. */
  get qemuVersion(): string {
    return this.#data.qemu.version;
  }

  /** What `qemu-system-x86_64 -version` printed. */
  get versionText(): string {
    return this.#data.qemu.versionText;
  }

  /** The greeting as QEMU wrote it (no line end). */
  get greetingText(): string {
    return this.#data.qemu.greeting;
  }

  /** QEMU's arguments when recording (before `-qmp`). */
  get args(): readonly string[] {
    return this.#data.args;
  }

  /** Whether QEMU was started with `-S` (so recorded `query-status` says `prelaunch`). */
  get startPaused(): boolean {
    return this.#data.startPaused;
  }

  /** The text that stands for the recording session's QMP socket path inside replies. */
  get socketPlaceholder(): string {
    return SOCKET_PLACEHOLDER;
  }

  /** Every recorded request key (see `requestKey`), in recording order. */
  keys(): string[] {
    return this.#packed.keys();
  }

  /** Whether this request was recorded. */
  has(command: string, args?: unknown): boolean {
    return this.#packed.poolIndex(requestKey(command, args)) !== undefined;
  }

  /** Whether the reply to this key varied between two fresh QEMUs (thread ids, clocks, hash order). */
  isVolatile(key: string): boolean {
    this.#volatile ??= new Set(this.#data.volatile);
    return this.#volatile.has(key);
  }

  /** The end of QEMU's stderr if this request made QEMU 7.2 abort instead of replying. */
  crash(command: string, args?: unknown): string | undefined {
    return this.#data.crashes[requestKey(command, args)];
  }

  /** Keys of the requests that made QEMU abort. */
  crashKeys(): string[] {
    return Object.keys(this.#data.crashes);
  }

  /** The recorded reply's text without its id (`{"return": …}` or `{"error": …}`), exactly as QEMU wrote it. */
  replyTextByKey(key: string): string | undefined {
    const index = this.#packed.poolIndex(key);
    return index === undefined ? undefined : this.#packed.text(index);
  }

  /** The recorded reply to `command` with `args`, or undefined when that exact request was not recorded. */
  reply(command: string, args?: unknown): ProfileReply | undefined {
    return this.replyByKey(requestKey(command, args));
  }

  /** Like {@link reply}, by request key. */
  replyByKey(key: string): ProfileReply | undefined {
    const index = this.#packed.poolIndex(key);
    if (index === undefined) return undefined;
    let reply = this.#parsed.get(index);
    if (reply === undefined) {
      reply = parseReply(this.#packed.text(index));
      this.#parsed.set(index, reply);
    }
    return reply;
  }

  /**
   * The recorded `return` value, parsed (integers beyond 2^53 lose precision here; {@link reply}'s `text` keeps
   * them). Throws if the request was not recorded or QEMU answered with an error.
   */
  returnOf<T = unknown>(command: string, args?: unknown): T {
    const reply = this.reply(command, args);
    if (reply === undefined)
      throw new Error(`${requestKey(command, args)} is not in the ${this.machine} profile`);
    if (reply.kind === "error")
      throw new Error(`QEMU answered ${command} with ${reply.errorClass}: ${reply.desc}`);
    return reply.value() as T;
  }

  /** `query-qmp-schema`, parsed whole (one array shared by the profiles of one QEMU). */
  schema(): SchemaEntry[] {
    return this.schemaText().entries();
  }

  /**
   * @internal `query-qmp-schema` as QEMU's text, whose entries are parsed one by one as they are asked for: what
   * a fake checks arguments against without paying for the whole schema.
   */
  schemaText(): SchemaText {
    const layout = this.#packed.schemaLayout();
    if (layout !== undefined) {
      // Every machine of one QEMU binary has the same schema: what was read of it serves them all.
      let schema = indexedSchemas.get(layout.id);
      if (schema === undefined) {
        schema = new SchemaText({
          text: () => {
            const reply = this.reply("query-qmp-schema");
            return reply?.kind === "return" ? reply.text : this.returnOf<never>("query-qmp-schema");
          },
          // The layout's own function (it reads no `this`): no wrapper to run on every look-up.
          entryText: layout.entryText,
        });
        indexedSchemas.set(layout.id, schema);
      }
      return schema;
    }
    const reply = this.reply("query-qmp-schema");
    if (reply?.kind !== "return") return this.returnOf<never>("query-qmp-schema");
    // Every machine of one QEMU binary has the same schema text: read it once for all of them.
    let schema = schemas.get(reply.text);
    if (schema === undefined) {
      schema = new SchemaText(reply.text);
      schemas.set(reply.text, schema);
    }
    return schema;
  }

  /** The names in `query-commands`, in QEMU's order. */
  commands(): string[] {
    return this.returnOf<{ name: string }[]>("query-commands").map((c) => c.name);
  }

  /** `qom-list-types` with `abstract: true`: every type QEMU knows. */
  types(): ObjectTypeInfo[] {
    return this.returnOf<ObjectTypeInfo[]>("qom-list-types", { abstract: true });
  }

  /**
   * The recorded QOM tree, by path (`/`, `/machine`, …). Built on its first read, not when asked for: a fake
   * holds it from the start, and most sessions never look at QOM.
   */
  qomTree(): ReadonlyMap<string, QomNode> {
    return new LazyMap(() => {
      this.#tree ??= this.#buildTree();
      return this.#tree;
    });
  }

  #buildTree(): Map<string, QomNode> {
    const tree = new Map<string, QomNode>();
    for (const key of this.keys()) {
      if (!key.startsWith("qom-list {")) continue;
      const { path } = JSON.parse(key.slice("qom-list ".length)) as { path: string };
      const listed = this.replyByKey(key);
      if (listed?.kind !== "return") continue;
      const properties = listed.value() as QomPropertyInfo[];
      const values = new Map<string, ProfileReply>();
      const children: string[] = [];
      for (const property of properties) {
        const value = this.reply("qom-get", { path, property: property.name });
        if (value) values.set(property.name, value);
        if (property.type.startsWith("child<"))
          children.push(path === "/" ? `/${property.name}` : `${path}/${property.name}`);
      }
      tree.set(path, { path, properties, values, children });
    }
    return tree;
  }
}

/** A read-only map whose contents are made on first use. */
class LazyMap<K, V> implements ReadonlyMap<K, V> {
  readonly #make: () => ReadonlyMap<K, V>;
  #made: ReadonlyMap<K, V> | undefined;

  constructor(make: () => ReadonlyMap<K, V>) {
    this.#make = make;
  }

  get #map(): ReadonlyMap<K, V> {
    this.#made ??= this.#make();
    return this.#made;
  }

  get size(): number {
    return this.#map.size;
  }
  get(key: K): V | undefined {
    return this.#map.get(key);
  }
  has(key: K): boolean {
    return this.#map.has(key);
  }
  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.#map) callback.call(thisArg, value, key, this);
  }
  entries(): MapIterator<[K, V]> {
    return this.#map.entries();
  }
  keys(): MapIterator<K> {
    return this.#map.keys();
  }
  values(): MapIterator<V> {
    return this.#map.values();
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.#map[Symbol.iterator]();
  }
}

function parseReply(text: string): ProfileReply {
  if (text.startsWith('{"return": ')) {
    const valueText = text.slice('{"return": '.length, -1);
    let parsed: { value: unknown } | undefined;
    return {
      kind: "return",
      text: valueText,
      value: () => {
        parsed ??= { value: JSON.parse(valueText) };
        return parsed.value;
      },
    };
  }
  const { error } = JSON.parse(text) as { error: { class: string; desc: string } };
  return { kind: "error", errorClass: error.class, desc: error.desc };
}

/** The `return` of a recorded reply as a value the fake writes verbatim (QEMU's exact bytes). */
export function rawReturn(reply: ProfileReply & { kind: "return" }): RawJson {
  return new RawJson(reply.text);
}

const cache = new Map<string, Promise<MachineProfile>>();

/**
 * @internal A reader of `file`'s bytes when Bun serves them from memory, as it does for a file that
 * `bun build --compile` embedded: a read then resolves at once, so a profile reads a part when it first needs it
 * instead of copying the whole file at start (~0.25 ms and ~100 page faults of the CLI's one-command fake, which
 * uses ~30 KB of 390). Undefined for a file on disk, whose reads take an event-loop turn: that one is read whole.
 */
export function memoryReader(file: Blob): ProfileReader | undefined {
  const first = file.slice(0, 4).bytes();
  if (!(Bun.peek(first) instanceof Uint8Array)) {
    // The whole file is read instead; this read's outcome, an error included, is of no interest.
    first.catch(() => {});
    return undefined;
  }
  return (start, end) => {
    const read = file.slice(start, end).bytes();
    const bytes = Bun.peek(read);
    if (bytes instanceof Uint8Array) return bytes;
    read.catch(() => {});
    throw new Error(`a profile's bytes ${start}-${end} could not be read at once`);
  };
}

/**
 * Loads a recorded machine profile (read on first use, then cached; reply texts inflate chunk by chunk).
 *
 * @example
 * const q35 = await loadProfile({ machine: "q35" });
 * q35.returnOf("query-target"); // { arch: "x86_64" }
 * q35.qomTree().get("/machine/unattached/device[0]")?.values.get("family");
 */
export function loadProfile(selector: ProfileSelector): Promise<MachineProfile> {
  const version = selector.qemuVersion ?? "7.2";
  const files = PROFILE_FILES[version];
  if (files === undefined) {
    return Promise.reject(
      new Error(`no profiles for QEMU ${version}; recorded: ${PROFILE_VERSIONS.join(", ")}`),
    );
  }
  const path = files[selector.machine];
  if (path === undefined) {
    return Promise.reject(new Error(`no ${selector.machine} profile; machines: ${MACHINES.join(", ")}`));
  }
  const cacheKey = `${version}/${selector.machine}`;
  let loading = cache.get(cacheKey);
  if (loading === undefined) {
    const file = Bun.file(path);
    const reader = memoryReader(file);
    if (reader === undefined) {
      loading = file.bytes().then((bytes) => new MachineProfile(new PackedProfile(bytes)));
      // A failed read must not poison the cache for the next caller.
      loading.catch(() => cache.delete(cacheKey));
    } else {
      try {
        loading = Promise.resolve(new MachineProfile(new PackedProfile(reader)));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    cache.set(cacheKey, loading);
  }
  return loading;
}
