/**
 * The one seam between the CLI and the QMP client / fake QEMU. Subcommands only see
 * {@link Session}; {@link openClient} is the single place that calls `@qmpkit/qmp`'s `connect()`
 * (after starting the embedded fake for `--fake`). Tests hand in a stub through `CliIO.openClient`.
 */

import type { ConnectFunctionOptions, SocketAddress } from "@qmpkit/qmp";
import { type Address, formatAddress, parseAddress } from "./address.ts";
import { CliUsageError, ConnectionFailedError } from "./errors.ts";

/** Where to connect: a parsed address, or the embedded fake QEMU. */
export type Target = { readonly kind: "fake" } | { readonly kind: "address"; readonly address: Address };

/** An event as the CLI prints it (QMP's wire shape). */
export interface QMPEventLike {
  readonly event: string;
  readonly data?: unknown;
  readonly timestamp?: { readonly seconds: number; readonly microseconds: number };
}

/** What the CLI needs from a live QMP connection. */
export interface Session {
  /** The server's greeting (`{"QMP": {...}}`). */
  readonly greeting: unknown;
  /**
   * Runs a command and resolves with its `return` value.
   * @throws an error with `errorClass` and `desc` when the server answers with an error.
   */
  execute(
    command: string,
    args?: Record<string, unknown>,
    options?: { signal?: AbortSignal },
  ): Promise<unknown>;
  /** Sends a message exactly as typed (a raw JSON line) and resolves with the whole reply. */
  sendRaw(message: Record<string, unknown>): Promise<unknown>;
  /** Events as they arrive, optionally only those named; ends when `signal` aborts or the session ends. */
  events(options?: { names?: readonly string[]; signal?: AbortSignal }): AsyncIterable<QMPEventLike>;
  /** Disconnects; safe to call twice. */
  close(): Promise<void>;
}

/** Connection settings gathered from the common flags. */
export interface ConnectionOptions {
  /** `true`, or the path of a CA certificate to trust. */
  readonly tls?: true | { readonly caFile: string };
  /** @default 10_000 */
  readonly connectTimeoutMs?: number;
  /** Skip `qmp_capabilities` (shell -N): for poking at a server's negotiation by hand. */
  readonly skipNegotiation?: boolean;
  readonly debug?: boolean;
}

export const NO_ADDRESS_MESSAGE =
  "no QMP address given; pass one as unix:PATH or tcp:HOST:PORT (a plain path works too), or use --fake for an embedded fake QEMU";

/**
 * Splits a command's positionals into the target and the rest. `after` is how many positionals
 * the command requires after the address, so `qmpkit exec query-status` is reported as a missing
 * address rather than an attempt to open a socket named `query-status`.
 */
export function takeTarget(
  positionals: readonly string[],
  values: { readonly fake?: boolean | undefined },
  after = 0,
): { target: Target; rest: string[] } {
  if (values.fake) return { target: { kind: "fake" }, rest: [...positionals] };
  const [first, ...rest] = positionals;
  if (first === undefined || positionals.length <= after) throw new CliUsageError(NO_ADDRESS_MESSAGE);
  return { target: { kind: "address", address: parseAddress(first) }, rest };
}

/** Reads the connection flags shared by every command that connects. */
export function connectionOptions(values: {
  readonly tls?: boolean | undefined;
  readonly "tls-ca"?: string | undefined;
  readonly "connect-timeout"?: string | undefined;
  readonly debug?: boolean | undefined;
}): ConnectionOptions {
  const timeout = values["connect-timeout"];
  let connectTimeoutMs: number | undefined;
  if (timeout !== undefined) {
    const seconds = Number(timeout);
    if (timeout.trim() === "" || !Number.isFinite(seconds) || seconds <= 0) {
      throw new CliUsageError(`--connect-timeout needs a positive number of seconds, got '${timeout}'`);
    }
    connectTimeoutMs = seconds * 1000;
  }
  const caFile = values["tls-ca"];
  return {
    ...(caFile !== undefined ? { tls: { caFile } } : values.tls ? { tls: true } : {}),
    ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
    ...(values.debug ? { debug: true } : {}),
  };
}

/** How a target is named in messages. */
export function describeTarget(target: Target): string {
  return target.kind === "fake" ? "the embedded fake QEMU" : formatAddress(target.address);
}

/**
 * Connects and negotiates, or starts the embedded fake QEMU and connects to it. This is the one
 * place the CLI calls `@qmpkit/qmp`'s `connect()`.
 * @throws {ConnectionFailedError} (exit status 2) naming the address, with the client's error as `cause`.
 * @example const session = await openClient({ kind: "fake" }, {}); await session.execute("query-status");
 */
export async function openClient(requested: Target, options: ConnectionOptions): Promise<Session> {
  let target = requested;
  let fake: { address: string; close(): Promise<void> } | undefined;
  let address: SocketAddress;
  if (target.kind === "fake") {
    // In this process, over an inproc: connection: nothing on disk to create or to clean up after a signal.
    fake = await (await import("./embedded-fake.ts")).startEmbeddedFake();
    address = fake.address;
  } else {
    const resolved = await resolveVmName(target);
    target = resolved;
    address = toSocketAddress(resolved.address);
  }
  const label = describeTarget(target);
  // Loaded on first use, so --help, --version and --dry-run start without the client; `connect` comes through
  // client-session.ts, as one import() loads fewer chunks than two (see there).
  const { connect, ClientSession } = await import("./client-session.ts");
  try {
    const client = await connect(address, {
      timeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // People read sizes and counters: a uint64 printed rounded (18446744073709552000) would be wrong.
      bigints: true,
      ...(options.skipNegotiation ? { negotiate: false } : {}),
      ...(options.tls === undefined ? {} : await tlsSetting(target, options)),
    });
    return new ClientSession(client, label, fake ? () => fake.close() : undefined, fake !== undefined);
  } catch (error) {
    await fake?.close();
    throw new ConnectionFailedError(
      `cannot connect to ${label}: ${await explainConnectError(error, target)}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * A bare word that is no file here (`qmpkit shell vm1`) may be the `-name` of a QEMU on this host: its first
 * QMP monitor, as `qmpkit ps` finds it.
 */
async function resolveVmName(target: Target & { kind: "address" }): Promise<Target & { kind: "address" }> {
  const { address } = target;
  if (address.kind !== "unix" || address.path.includes("/") || (await Bun.file(address.path).exists()))
    return target;
  const { findQemus } = await import("./vms.ts");
  const vm = (await findQemus()).find((v) => v.name === address.path);
  if (vm === undefined) return target;
  const qmp = vm.qmp[0];
  if (qmp === undefined)
    throw new CliUsageError(`QEMU '${address.path}' (pid ${vm.pid}) has no QMP monitor to connect to`);
  return { kind: "address", address: qmp };
}

/** @default 10 s, as `--connect-timeout` says. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

async function tlsSetting(
  target: Target,
  options: ConnectionOptions,
): Promise<Pick<ConnectFunctionOptions, "tls">> {
  const tls = options.tls;
  if (tls === undefined) return {}; // openClient skips the call then: no async function run for nothing
  if (target.kind !== "address" || target.address.kind !== "tcp") {
    throw new CliUsageError("--tls and --tls-ca need a tcp: address");
  }
  if (tls === true) return { tls: true };
  const file = Bun.file(tls.caFile);
  if (!(await file.exists())) throw new CliUsageError(`CA file '${tls.caFile}' does not exist`);
  return { tls: { ca: await file.text(), serverName: target.address.host } };
}

/** The client's message plus what a person can do about the usual causes. */
export async function explainConnectError(error: unknown, target: Target): Promise<string> {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const path = target.kind === "address" && target.address.kind === "unix" ? target.address.path : undefined;
  if (code === "ENOENT") return `${message} (no socket at that path; is QEMU running with -qmp?)`;
  if (path !== undefined && (code === "ECONNREFUSED" || code === "ENOTSOCK")) {
    const kind = await fileKind(path);
    if (kind !== "socket" && kind !== undefined) return `${message} (${path} is ${kind}, not a socket)`;
  }
  if (code === "ECONNREFUSED") return `${message} (nothing is listening there)`;
  if (code === "EACCES") return `${message} (permission denied on the socket)`;
  if (isTimeout(error)) return `${message} (${SILENT_SERVER_HINT})`;
  return message;
}

/**
 * Why a server accepts a connection and then says nothing: QEMU's monitor serves one client at a time (the
 * next waits in the listen queue), or the socket speaks another protocol.
 */
export const SILENT_SERVER_HINT =
  "no QMP greeting arrived: another client may hold the monitor, which QEMU serves one at a time, or this is not a QMP socket (a guest agent's is used with 'qmpkit ga')";

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const cause = (error as { cause?: { name?: unknown; code?: unknown } } | null)?.cause;
  return (
    code === "ETIMEDOUT" ||
    (error as { name?: unknown } | null)?.name === "TimeoutError" ||
    cause?.name === "TimeoutError" ||
    cause?.code === "QMP_ERR_TIMEOUT" ||
    /timed out/i.test(error instanceof Error ? error.message : "")
  );
}

async function fileKind(path: string): Promise<string | undefined> {
  try {
    const { stat } = await import("node:fs/promises");
    const info = await stat(path);
    if (info.isSocket()) return "socket";
    if (info.isDirectory()) return "a directory";
    if (info.isFile()) return "a regular file";
    return "not a socket";
  } catch {
    return undefined;
  }
}

/** Opens a session through the test override when there is one, else {@link openClient}. */
export function open(
  io: { readonly openClient?: typeof openClient },
  target: Target,
  options: ConnectionOptions,
): Promise<Session> {
  return (io.openClient ?? openClient)(target, options);
}

/** The `{ path }` / `{ host, port }` form `@qmpkit/protocol-core` accepts. */
export function toSocketAddress(address: Address): { path: string } | { host: string; port: number } {
  return address.kind === "unix" ? { path: address.path } : { host: address.host, port: address.port };
}
