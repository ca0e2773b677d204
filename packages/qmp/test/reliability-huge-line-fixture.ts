/**
 * Child process of reliability-hostile.test.ts: a server announces a 1 GiB reply (`{"return": "xxx…`) and never
 * ends the line. The client must stop it at `maxMessageBytes` (10 MiB by default) and hold no more than that,
 * which is measured here, in a process of its own, as RSS. Prints one JSON line and exits by itself.
 */
import { FrameTooLargeError, QMPClient } from "../src/index.ts";
import { hostileServer } from "./reliability-helpers.ts";

const ANNOUNCED = 1024 * 1024 * 1024;
const CHUNK = Buffer.alloc(1024 * 1024, 0x78);
const MIB = 1024 * 1024;

const rss = (): number => process.memoryUsage().rss;
let rssPeak = 0;
const sampler = setInterval(() => {
  rssPeak = Math.max(rssPeak, rss());
}, 5);

let streamed = 0;
const server = hostileServer({
  onCommand: async (message, peer) => {
    if (message.execute !== "huge") {
      peer.replyRaw(message, '"return": {}');
      return;
    }
    peer.write('{"return": "');
    while (streamed < ANNOUNCED && !peer.closed) {
      peer.write(CHUNK);
      streamed += CHUNK.length;
      await peer.flushed();
    }
  },
});

const client = new QMPClient();
await client.connect(server.path);
Bun.gc(true);
const rssStart = rss();
rssPeak = rssStart;
let error: unknown;
try {
  await client.executeUntyped("huge");
} catch (caught) {
  error = caught;
}
let disconnectError: unknown;
try {
  await client.disconnect();
} catch (caught) {
  disconnectError = caught;
}
const cause = (error as { cause?: unknown } | undefined)?.cause;
// The same client object carries on.
await client.connect(server.path);
const after = await client.executeUntyped("small");
await client.disconnect();
clearInterval(sampler);
await server.stop();
Bun.gc(true);
console.log(
  JSON.stringify({
    errorName: (error as Error | undefined)?.name,
    causeIsFrameTooLarge: cause instanceof FrameTooLargeError,
    disconnectRethrewCause: disconnectError === cause,
    streamedMiB: streamed / MIB,
    rssStartMiB: rssStart / MIB,
    rssPeakMiB: rssPeak / MIB,
    rssEndMiB: rss() / MIB,
    after,
  }),
);
