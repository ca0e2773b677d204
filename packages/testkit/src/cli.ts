#!/usr/bin/env bun
/**
 * The fake QEMU as a standalone server, for tests written in any language:
 *
 *   bun packages/testkit/src/cli.ts --socket /tmp/qmp.sock [--script handlers.ts]
 *   bun packages/testkit/src/cli.ts --tcp 127.0.0.1:4444
 *   bun packages/testkit/src/cli.ts --socket /tmp/qmp.sock --qemu-version 10.0
 *
 * stdout gets JSON Lines: first `{"type":"listening","address":…}`, then one `{"type":"received",…}` per message a
 * client sent. `--script FILE` loads a module whose default export receives the fake (to call `handle()`,
 * `emit()`…). Stops on SIGINT/SIGTERM, or after `quit`.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createFakeQemu, type FakeQemu } from "./fake-server.ts";
import type { FakeQemuOptions, ReceivedMessage } from "./types.ts";

/** Options of {@link runFakeCli}. */
export interface RunFakeCliOptions {
  /** Stops the server when aborted. @default SIGINT/SIGTERM when run as a program; never otherwise */
  signal?: AbortSignal;
  /** Where JSON Lines go. @default process.stdout */
  stdout?: (line: string) => void;
  /** Where usage and errors go. @default process.stderr */
  stderr?: (line: string) => void;
  /** Called once the fake listens (the qmpkit CLI uses it to print its own banner). */
  onListening?: (fake: FakeQemu) => void;
}

/** The usage text. */
export const FAKE_CLI_USAGE = `Usage: fake (--socket PATH | --tcp HOST:PORT) [options]

A fake QEMU QMP monitor (QEMU 7.2 behaviour, or 10.0's). Prints what clients send as JSON Lines on stdout.

Options:
  --socket PATH      listen on a unix socket (mode 0600; a stale socket there is replaced)
  --tcp HOST:PORT    listen on TCP (port 0 picks a free one)
  --machine NAME     the machine to stand in for: none (default) or q35, as recorded from QEMU
  --script FILE      module whose default export (fake) => void scripts handlers
  --qemu-version V   answer like QEMU 7.2 (default) or 10.0: schema, commands, greeting, replies
  --multi-client     serve several clients at once (QEMU serves one at a time)
  --bench-commands   serve bench-events {"count": N}
  --keep-running     stay up after quit (close only the client that asked)
  -h, --help         show this help`;

/**
 * Runs the standalone fake until `signal` aborts or a client sends `quit`; resolves with an exit status
 * (0 on a normal stop, 2 on bad arguments, 1 when the server cannot start or the script fails).
 *
 * @example
 * const status = await runFakeCli(["--socket", "/tmp/qmp.sock"], { signal: AbortSignal.timeout(60_000) });
 */
export async function runFakeCli(argv: readonly string[], options: RunFakeCliOptions = {}): Promise<number> {
  const out = options.stdout ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = options.stderr ?? ((line: string) => process.stderr.write(`${line}\n`));
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (error) {
    err(`${error instanceof Error ? error.message : String(error)}\n\n${FAKE_CLI_USAGE}`);
    return 2;
  }
  if (values.help) {
    out(FAKE_CLI_USAGE);
    return 0;
  }
  if ((values.socket === undefined) === (values.tcp === undefined)) {
    err(`Give exactly one of --socket PATH or --tcp HOST:PORT.\n\n${FAKE_CLI_USAGE}`);
    return 2;
  }
  const machine = values.machine ?? "none";
  if (machine !== "none" && machine !== "q35") {
    err(`Unknown --machine ${JSON.stringify(machine)}: expected none or q35\n\n${FAKE_CLI_USAGE}`);
    return 2;
  }
  const qemuVersion = values["qemu-version"];
  if (qemuVersion !== undefined && qemuVersion !== "7.2" && qemuVersion !== "10.0") {
    err(`Invalid --qemu-version ${JSON.stringify(qemuVersion)}: expected 7.2 or 10.0`);
    return 2;
  }
  const fakeOptions: FakeQemuOptions = {
    machine,
    ...(qemuVersion === undefined ? {} : { qemuVersion }),
    multiClient: values["multi-client"] === true,
    benchCommands: values["bench-commands"] === true,
    onQuit: values["keep-running"] ? "close-client" : "exit",
    // A long-running server should not accumulate every message: stdout is the record.
    record: false,
    onReceived: (entry: ReceivedMessage) => out(JSON.stringify({ type: "received", ...entry })),
  };
  if (values.socket !== undefined) fakeOptions.path = resolve(values.socket);
  else {
    const tcp = values.tcp as string;
    const colon = tcp.lastIndexOf(":");
    const port = Number(tcp.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
      err(`Invalid --tcp ${JSON.stringify(tcp)}: expected HOST:PORT`);
      return 2;
    }
    fakeOptions.tcp = true;
    fakeOptions.hostname = tcp.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
    fakeOptions.port = port;
  }

  let fake: FakeQemu;
  try {
    fake = await createFakeQemu(fakeOptions);
  } catch (error) {
    err(`Cannot start the fake QEMU: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  try {
    if (values.script !== undefined) {
      const module = (await import(pathToFileURL(resolve(values.script)).href)) as { default?: unknown };
      if (typeof module.default !== "function") {
        throw new Error(`${values.script} has no default export function (fake) => void`);
      }
      await module.default(fake);
    }
  } catch (error) {
    err(`--script failed: ${error instanceof Error ? error.message : String(error)}`);
    await fake.close();
    return 1;
  }
  out(JSON.stringify({ type: "listening", address: fake.address }));
  options.onListening?.(fake);

  const stopped = new Promise<void>((resolveStop) => {
    if (options.signal?.aborted) resolveStop();
    options.signal?.addEventListener("abort", () => resolveStop(), { once: true });
  });
  await Promise.race([stopped, fake.exited]);
  await fake.close();
  return 0;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      socket: { type: "string" },
      tcp: { type: "string" },
      script: { type: "string" },
      machine: { type: "string" },
      "qemu-version": { type: "string" },
      "multi-client": { type: "boolean" },
      "bench-commands": { type: "boolean" },
      "keep-running": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

if (import.meta.main) {
  const controller = new AbortController();
  for (const name of ["SIGINT", "SIGTERM"] as const) process.once(name, () => controller.abort());
  // Not a top-level await: a bundle that contains this module can then be compiled with `--bytecode`.
  void runFakeCli(process.argv.slice(2), { signal: controller.signal }).then((code) => {
    process.exitCode = code;
  });
}
