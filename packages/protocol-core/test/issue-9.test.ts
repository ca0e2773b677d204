/**
 * Issue 9 regression: Bun treats a TLS options object without a key it recognises (`{}`, `{ requestCert: false }`)
 * as plain TCP, so no handshake ever came and `connect({ tls: {} })` hung until its timeout (or forever without
 * one). Any TLS object must mean TLS, verified unless `rejectUnauthorized: false` says otherwise.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TLSOptions } from "bun";
import { ConnectError, Runstate } from "../src/index.ts";
import { LineProtocol, listenPeer, selfSignedCert, within } from "./helpers.ts";

const openssl = Bun.which("openssl");

describe.skipIf(!openssl)("issue 9: TLS options objects", () => {
  let key = "";
  let cert = "";
  let peer: ReturnType<typeof listenPeer> | undefined;

  beforeAll(() => {
    ({ key, cert } = selfSignedCert() as { key: string; cert: string });
    peer = listenPeer({ port: 0, tls: { key, cert } }, { onData: (socket, chunk) => socket.write(chunk) });
  });
  afterAll(() => {
    peer?.stop();
  });

  const unverifiable: [string, TLSOptions][] = [
    ["{}", {}],
    ["{ requestCert: false }", { requestCert: false }],
    ["{ lowMemoryMode: false }", { lowMemoryMode: false }],
  ];
  test.each(unverifiable)(
    "tls: %s verifies the peer: an untrusted certificate fails at once",
    async (_, tls) => {
      const protocol = new LineProtocol();
      // No timeoutMs: before the fix this waited forever for a handshake Bun never started.
      const error = await within(
        protocol.connect({ host: "127.0.0.1", port: peer?.port ?? 0 }, { tls }).catch((e: unknown) => e),
        5000,
        "connect",
      );
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe("DEPTH_ZERO_SELF_SIGNED_CERT");
      expect(protocol.runstate).toBe(Runstate.IDLE);
    },
  );

  test("tls: { ca } with only a trust anchor connects over TLS", async () => {
    const protocol = new LineProtocol();
    await within(protocol.connect({ host: "127.0.0.1", port: peer?.port ?? 0 }, { tls: { ca: cert } }), 5000);
    protocol.sendLine("over tls");
    await within(protocol.waitForMessages(1), 5000);
    expect(protocol.received).toEqual(["over tls"]);
    await protocol.disconnect();
  });
});
