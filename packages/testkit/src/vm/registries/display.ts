/**
 * `screendump`, as QEMU 7.2 and 10.0 answer it for a q35 guest with no OS (recorded by hand):
 * - with no display device: "There is no console to take a screendump from";
 * - a VGA shows 640×480 before the CPUs ever ran and the firmware's 720×400 text mode after; the file is a
 *   binary PPM (`P6`) or, with `format: "png"`, an 8-bit RGB PNG of that size.
 *
 * The picture is black: the fake draws no firmware text. The devices model says when a display exists with
 * {@link Display.attach}/{@link Display.detach}.
 */
import { QMPCommandError } from "../../errors.ts";
import { writeFileSync } from "../../lazy-node.ts";
import { strerror } from "../../strerror.ts";
import { PROVIDES } from "../provides.ts";
import { Runstate } from "../runstate.ts";
import type { SubsystemProvides, VmApi } from "../types.ts";

/** The display devices (their consoles), in creation order. */
export class Display {
  static readonly provides: SubsystemProvides = PROVIDES.display;

  readonly #vm: VmApi;
  readonly #consoles: string[] = [];

  constructor(vm: VmApi) {
    this.#vm = vm;
    vm.command("screendump", (args, ctx) => {
      const device = args.device as string | undefined;
      if (device !== undefined) vm.unimplemented(ctx, "screendump of a chosen device or head");
      if (this.#consoles.length === 0) {
        throw new QMPCommandError("GenericError", "There is no console to take a screendump from");
      }
      const [width, height] = this.size();
      const path = String(args.filename);
      const image = args.format === "png" ? png(width, height) : ppm(width, height);
      try {
        writeFileSync(path, image);
      } catch (error) {
        const reason = strerror(error) ?? String(error);
        throw new QMPCommandError("GenericError", `Unable to open ${path}: ${reason}`);
      }
    });
  }

  /** A display device was plugged (VGA, a virtio-gpu, …). */
  attach(deviceId: string): void {
    this.#consoles.push(deviceId);
  }

  detach(deviceId: string): void {
    const index = this.#consoles.indexOf(deviceId);
    if (index >= 0) this.#consoles.splice(index, 1);
  }

  /** The first console's size in pixels: VGA's power-on mode until the firmware set its text mode. */
  size(): [number, number] {
    return this.#vm.get(Runstate).firmwareRan ? [720, 400] : [640, 480];
  }
}

function ppm(width: number, height: number): Uint8Array {
  const header = new TextEncoder().encode(`P6\n${width} ${height}\n255\n`);
  const image = new Uint8Array(header.length + width * height * 3);
  image.set(header);
  return image;
}

function png(width: number, height: number): Uint8Array {
  // Each row: filter byte 0, then RGB.
  const raw = new Uint8Array((width * 3 + 1) * height);
  const ihdr = new DataView(new ArrayBuffer(13));
  ihdr.setUint32(0, width);
  ihdr.setUint32(4, height);
  ihdr.setUint8(8, 8); // bit depth
  ihdr.setUint8(9, 2); // truecolour
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", new Uint8Array(ihdr.buffer)),
    // Required here, not imported: node:zlib brings Node's streams with it, ~7 ms on every fake's start-up.
    chunk("IDAT", (require("node:zlib") as typeof import("node:zlib")).deflateSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  return Buffer.concat(parts);
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

let crcTable: Uint32Array | undefined;
function crc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (crcTable[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
