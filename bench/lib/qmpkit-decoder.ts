/**
 * Workload 6 rows for qmpkit: protocol-core's `LineDecoder` alone, and followed by JSON.parse the way the client
 * decodes each frame (`decodeQMPMessage`: UTF-8 decode, JSON.parse, object check).
 *
 * `decodeQMPMessage` is not exported by `@qmpkit/qmp`; it is imported from its source file so the row measures
 * exactly what `QMPClient` does per frame.
 */
import { LineDecoder } from "../../packages/protocol-core/src/index.ts";
import { decodeQMPMessage } from "../../packages/qmp/src/messages.ts";
import type { DecoderContender } from "./contender.ts";

const decoder = new TextDecoder();

/** Framing only: the lines are counted, nothing is decoded. */
export const lineDecoderOnly: DecoderContender = {
  name: "qmpkit LineDecoder: split only",
  decode(chunks) {
    const framer = new LineDecoder();
    let n = 0;
    const onLine = (): void => {
      n++;
    };
    for (const chunk of chunks) framer.decode(chunk, onLine);
    return n;
  },
};

/** LineDecoder, then TextDecoder + JSON.parse of each line. */
export const lineDecoderParse: DecoderContender = {
  name: "qmpkit LineDecoder + JSON.parse",
  decode(chunks) {
    const framer = new LineDecoder();
    let n = 0;
    const onLine = (line: Uint8Array): void => {
      if (JSON.parse(decoder.decode(line)) !== null) n++;
    };
    for (const chunk of chunks) framer.decode(chunk, onLine);
    return n;
  },
};

/** LineDecoder, then the client's own per-frame decoding. */
export const lineDecoderClient: DecoderContender = {
  name: "qmpkit LineDecoder + decodeQMPMessage",
  decode(chunks) {
    const framer = new LineDecoder();
    let n = 0;
    const onLine = (line: Uint8Array): void => {
      if (decodeQMPMessage(line) !== null) n++;
    };
    for (const chunk of chunks) framer.decode(chunk, onLine);
    return n;
  },
};
