/**
 * Fetch `query-qmp-schema` from a running QEMU over its QMP unix socket.
 *
 * A deliberately small raw client (greeting, `qmp_capabilities`, one command), so the type generator works
 * without the full QMP client.
 */

import { parseSchema, type SchemaEntry } from "../src/qapi/schema.ts";

/** The schema and the version QEMU announced in its greeting. */
export interface FetchedSchema {
  readonly schema: SchemaEntry[];
  /** `major.minor.micro`, from the greeting. */
  readonly qemuVersion: string;
}

/** Connect to a QMP unix socket, negotiate, and return the introspection schema. */
export async function fetchSchema(socketPath: string, timeoutMs = 10_000): Promise<FetchedSchema> {
  const done = Promise.withResolvers<FetchedSchema>();
  const decoder = new TextDecoder();
  let pending = "";
  let qemuVersion = "";
  let step: "greeting" | "capabilities" | "schema" = "greeting";

  const fail = (message: string): void => done.reject(new Error(`${socketPath}: ${message}`));
  const onMessage = (msg: Record<string, unknown>, socket: { write(data: string): number }): void => {
    if ("event" in msg) return;
    if ("error" in msg) {
      fail(`QEMU answered with an error: ${JSON.stringify(msg.error)}`);
    } else if (step === "greeting") {
      const version = (msg.QMP as { version?: { qemu?: Record<string, number> } } | undefined)?.version?.qemu;
      if (version === undefined) {
        fail(`expected a QMP greeting, got ${JSON.stringify(msg).slice(0, 200)}`);
        return;
      }
      qemuVersion = `${version.major}.${version.minor}.${version.micro}`;
      step = "capabilities";
      socket.write('{"execute":"qmp_capabilities","id":"caps"}\n');
    } else if (step === "capabilities" && msg.id === "caps") {
      step = "schema";
      socket.write('{"execute":"query-qmp-schema","id":"schema"}\n');
    } else if (step === "schema" && msg.id === "schema") {
      try {
        done.resolve({ schema: parseSchema(msg.return), qemuVersion });
      } catch (error) {
        done.reject(error);
      }
    }
  };

  const socket = await Bun.connect({
    unix: socketPath,
    socket: {
      data(sock, chunk) {
        // Lines are only joined when a newline arrives; the schema reply is ~200 KB in many chunks.
        const text = decoder.decode(chunk, { stream: true });
        const lines = (pending + text).split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          if (line.trim() === "") continue;
          try {
            onMessage(JSON.parse(line) as Record<string, unknown>, sock);
          } catch (error) {
            done.reject(error);
          }
        }
      },
      close() {
        fail("connection closed before the schema arrived");
      },
      error(_socket, error) {
        done.reject(error);
      },
    },
  });
  const timer = setTimeout(() => fail(`no schema within ${timeoutMs} ms`), timeoutMs);
  try {
    return await done.promise;
  } finally {
    clearTimeout(timer);
    socket.end();
  }
}
