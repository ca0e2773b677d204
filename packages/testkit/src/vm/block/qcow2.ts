/**
 * The qcow2 format as far as the block model needs it: read an image's header (so `blockdev-add` of a qcow2
 * reports the real virtual size, cluster size and backing file) and write a fresh empty image the way QEMU 7.2's
 * `blockdev-create` lays it out (header cluster, refcount table, refcount block, L1 table), so QEMU itself and
 * `qemu-img` can open what the fake made.
 */

const MAGIC = 0x514649fb; // "QFI\xfb"
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_TABLE = 0x6803f857;
const V3_HEADER_LENGTH = 112; // 104 bytes of fields, the compression type byte, padded to 8

/** What an image's header says. */
export interface Qcow2Header {
  version: number;
  virtualSize: number;
  clusterSize: number;
  backingFile: string | undefined;
  backingFormat: string | undefined;
  lazyRefcounts: boolean;
  dirty: boolean;
  corrupt: boolean;
  extendedL2: boolean;
  compressionType: "zlib" | "zstd";
  refcountBits: number;
  l1Size: number;
}

/** Parses a qcow2 header from the image's first bytes; undefined when the bytes are not a qcow2 image. */
export function parseQcow2Header(bytes: Uint8Array): Qcow2Header | undefined {
  if (bytes.length < 72) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== MAGIC) return undefined;
  const version = view.getUint32(4);
  const backingOffset = Number(view.getBigUint64(8));
  const backingLength = view.getUint32(16);
  const clusterBits = view.getUint32(20);
  const virtualSize = Number(view.getBigUint64(24));
  const l1Size = view.getUint32(36);
  let incompatible = 0n;
  let compatible = 0n;
  let refcountOrder = 4;
  let headerLength = 72;
  let compressionByte = 0;
  if (version >= 3 && bytes.length >= 104) {
    incompatible = view.getBigUint64(72);
    compatible = view.getBigUint64(80);
    refcountOrder = view.getUint32(96);
    headerLength = view.getUint32(100);
    if (headerLength > 104 && bytes.length > 104) compressionByte = view.getUint8(104);
  }
  let backingFormat: string | undefined;
  for (let at = headerLength; at + 8 <= bytes.length; ) {
    const type = view.getUint32(at);
    const length = view.getUint32(at + 4);
    if (type === 0) break;
    if (type === EXT_BACKING_FORMAT) backingFormat = text(bytes, at + 8, length);
    at += 8 + Math.ceil(length / 8) * 8;
  }
  const backingFile =
    backingOffset > 0 && backingLength > 0 ? text(bytes, backingOffset, backingLength) : undefined;
  return {
    version,
    virtualSize,
    clusterSize: 2 ** clusterBits,
    backingFile,
    backingFormat,
    lazyRefcounts: (compatible & 1n) !== 0n,
    dirty: (incompatible & 1n) !== 0n,
    corrupt: (incompatible & 2n) !== 0n,
    extendedL2: (incompatible & 16n) !== 0n,
    compressionType: compressionByte === 1 ? "zstd" : "zlib",
    refcountBits: 2 ** refcountOrder,
    l1Size,
  };
}

function text(bytes: Uint8Array, at: number, length: number): string {
  return new TextDecoder().decode(bytes.subarray(at, at + length));
}

/** What `blockdev-create` with `driver: "qcow2"` was asked for. */
export interface Qcow2CreateOptions {
  size: number;
  clusterSize?: number;
  backingFile?: string;
  backingFormat?: string;
  lazyRefcounts?: boolean;
}

// The feature name table QEMU writes into a new image: [type, bit, name].
const FEATURE_NAMES: readonly [number, number, string][] = [
  [0, 0, "dirty bit"],
  [0, 1, "corrupt bit"],
  [0, 2, "external data file"],
  [0, 3, "compression type"],
  [0, 4, "extended L2 entries"],
  [1, 0, "lazy refcounts"],
  [2, 0, "bitmaps"],
  [2, 1, "raw external data"],
];

/** Number of L1 entries an image of `size` bytes needs (each L2 table maps clusterSize / 8 clusters). */
export function l1EntriesFor(size: number, clusterSize: number): number {
  return Math.ceil(size / (clusterSize * (clusterSize / 8)));
}

/**
 * A new, empty image as QEMU 7.2 writes it: cluster 0 the header, 1 the refcount table, 2 the refcount block
 * (counting clusters 0..3), 3 the L1 table, and the file ending right after the L1 table. With a backing file
 * QEMU rewrites the header without the feature name table: backing format extension, then the file name.
 */
export function createQcow2Image(options: Qcow2CreateOptions): Uint8Array {
  const clusterSize = options.clusterSize ?? 65536;
  const l1Size = l1EntriesFor(options.size, clusterSize);
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / clusterSize));
  const image = new Uint8Array(3 * clusterSize + l1Size * 8);
  const view = new DataView(image.buffer);
  view.setUint32(0, MAGIC);
  view.setUint32(4, 3);
  view.setUint32(20, Math.log2(clusterSize));
  view.setBigUint64(24, BigInt(options.size));
  view.setUint32(36, l1Size);
  view.setBigUint64(40, BigInt(3 * clusterSize));
  view.setBigUint64(48, BigInt(clusterSize));
  view.setUint32(56, 1);
  if (options.lazyRefcounts === true) view.setBigUint64(80, 1n);
  view.setUint32(96, 4);
  view.setUint32(100, V3_HEADER_LENGTH);
  let at = V3_HEADER_LENGTH;
  if (options.backingFile === undefined) {
    view.setUint32(at, EXT_FEATURE_TABLE);
    view.setUint32(at + 4, FEATURE_NAMES.length * 48);
    at += 8;
    for (const [type, bit, name] of FEATURE_NAMES) {
      image[at] = type;
      image[at + 1] = bit;
      image.set(new TextEncoder().encode(name), at + 2);
      at += 48;
    }
    at += 8; // the end-of-extensions marker: zeroes
  } else {
    if (options.backingFormat !== undefined) {
      const format = new TextEncoder().encode(options.backingFormat);
      view.setUint32(at, EXT_BACKING_FORMAT);
      view.setUint32(at + 4, format.length);
      image.set(format, at + 8);
      at += 8 + Math.ceil(format.length / 8) * 8;
    }
    at += 8;
    const name = new TextEncoder().encode(options.backingFile);
    view.setBigUint64(8, BigInt(at));
    view.setUint32(16, name.length);
    image.set(name, at);
  }
  // The refcount table's one entry points at the refcount block; the block counts every used cluster once.
  view.setBigUint64(clusterSize, BigInt(2 * clusterSize));
  for (let cluster = 0; cluster < 3 + l1Clusters; cluster++) view.setUint16(2 * clusterSize + cluster * 2, 1);
  return image;
}
