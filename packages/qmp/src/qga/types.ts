// Result types of the guest-agent commands qmpkit wraps, written from qemu-ga 7.2's qapi-schema.json (shipped in
// Debian's qemu-guest-agent package). Optional members are optional on the wire too: the agent omits what it does
// not know. Enumerations are open (`| (string & {})`) so a value added by a newer agent passes through.

/** One command in `guest-info`'s `supported_commands`. */
export interface GuestAgentCommandInfo {
  name: string;
  /** False when the guest's administrator blocked the command (`--blacklist` / `--block-rpcs`). */
  enabled: boolean;
  /** False for commands that send no reply on success (`guest-shutdown`, `guest-suspend-*`). */
  "success-response": boolean;
}

/** What `guest-info` returns. */
export interface GuestAgentInfo {
  /** The agent's version, e.g. `7.2.22`. */
  version: string;
  supported_commands: GuestAgentCommandInfo[];
}

/** What `guest-get-osinfo` returns: uname(2) fields and os-release(5) fields, each present only when known. */
export interface GuestOSInfo {
  "kernel-release"?: string;
  "kernel-version"?: string;
  machine?: string;
  id?: string;
  name?: string;
  "pretty-name"?: string;
  version?: string;
  "version-id"?: string;
  variant?: string;
  "variant-id"?: string;
}

/** `guest-fsfreeze-status`: whether the guest's filesystems are frozen. */
export type GuestFsfreezeStatus = "thawed" | "frozen" | (string & {});

/** One address of a {@link GuestNetworkInterface}. */
export interface GuestIpAddress {
  "ip-address": string;
  "ip-address-type": "ipv4" | "ipv6" | (string & {});
  prefix: number;
}

/**
 * Traffic counters of a {@link GuestNetworkInterface}. The agent sends uint64 values; JavaScript numbers are exact
 * only up to 2^53 bytes/packets, which no real counter reaches.
 */
export interface GuestNetworkInterfaceStat {
  "rx-bytes": number;
  "rx-packets": number;
  "rx-errs": number;
  "rx-dropped": number;
  "tx-bytes": number;
  "tx-packets": number;
  "tx-errs": number;
  "tx-dropped": number;
}

/** One entry of `guest-network-get-interfaces`. */
export interface GuestNetworkInterface {
  name: string;
  "hardware-address"?: string;
  "ip-addresses"?: GuestIpAddress[];
  statistics?: GuestNetworkInterfaceStat;
}

/** What `guest-exec-status` returns (the raw form that {@link QGAExecResult} is built from). */
export interface GuestExecStatus {
  exited: boolean;
  /** Present when the process exited normally. */
  exitcode?: number;
  /** Present when a signal killed the process. */
  signal?: number;
  /** Base64 stdout; present only with `capture-output`, and only once the process exited. */
  "out-data"?: string;
  "err-data"?: string;
  "out-truncated"?: boolean;
  "err-truncated"?: boolean;
}

/**
 * The outcome of `exec()`: how the guest process ended and what it wrote. `O` is `string` (UTF-8, the default) or
 * `Uint8Array` (with `encoding: "bytes"`).
 */
export interface QGAExecResult<O extends string | Uint8Array = string> {
  /** The guest process id. */
  pid: number;
  /** The exit status; undefined when a signal killed the process. */
  exitcode: number | undefined;
  /** The signal that killed the process, if one did. */
  signal?: number;
  /** What the process wrote to stdout (empty unless `captureOutput`). */
  stdout: O;
  /** What the process wrote to stderr (empty unless `captureOutput`). */
  stderr: O;
  /** True when the agent dropped output past its capture limit (16 MiB in qemu-ga 7.2). */
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
}
