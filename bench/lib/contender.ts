/**
 * The seams of the benchmark. Every row of the table comes from one of these
 * interfaces; qmpkit's rows are added by implementing them and listing the
 * implementations in `bench/contenders.ts`.
 */

/** What one measured run reports. */
export interface Measurement {
  /** Wall time of the measured part only, in nanoseconds. */
  ns: number;
  /** Operations completed in that time (connects, replies, events, lines). */
  ops: number;
  /** Bytes received in that time, when the contender knows it. */
  bytes?: number;
}

/** A running QMP server that client workloads are pointed at. */
export interface Target {
  /** Shown in the table, e.g. "C server", "QEMU 7.2". */
  readonly name: string;
  /** Unix socket path of a server that is listening now (one client at a time). */
  readonly address: string;
  /** The server implements the `bench-events` command (workload 5). */
  readonly events: boolean;
}

/**
 * A QMP client under test (workloads 1–5). Each method opens its own session
 * (connect + greeting + `qmp_capabilities`), measures only the workload, then
 * closes the session before it resolves. Reject on any protocol surprise.
 */
export interface Contender {
  readonly name: string;
  /** Runs inside the bench process: warmed up first and its RSS is sampled. */
  readonly inProcess: boolean;
  /** Only these workload numbers (1–5). @default all */
  readonly onlyWorkloads?: readonly number[];
  /** Only against targets with these names (e.g. "C server"). @default every target */
  readonly onlyTargets?: readonly string[];
  /** 1: n × (connect, greeting, `qmp_capabilities`, close) — all of it measured. */
  connect(target: Target, n: number): Promise<Measurement>;
  /** 2: n sequential `query-status` round trips on one session. */
  seq(target: Target, n: number): Promise<Measurement>;
  /** 3: n `query-status` in flight at once; done when all n replies are matched. */
  pipe(target: Target, n: number): Promise<Measurement>;
  /** 4: n sequential `query-qmp-schema` round trips, each reply received and parsed. */
  schema(target: Target, n: number): Promise<Measurement>;
  /**
   * 5: execute `bench-events` with `{"count": n}`; done when each of `listeners`
   * listeners has seen all n events and the command has returned. ops = n.
   */
  events(target: Target, n: number, listeners: number): Promise<Measurement>;
}

/** Workload sizes; a slow server (real QEMU) may override some of them. */
export interface Sizes {
  connect: number;
  seq: number;
  pipe: number;
  schema: number;
  events: number;
}

export interface ServerContext {
  /** A fresh temp directory for this server's socket; removed by the harness. */
  readonly dir: string;
  /** The QAPI schema file (`query-qmp-schema` return value, or a whole reply object). */
  readonly schemaPath: string;
}

export interface RunningServer {
  readonly address: string;
  stop(): Promise<void>;
}

/** A QMP server: a target for workloads 1–5 and/or a contender in workload 7. */
export interface ServerContender {
  readonly name: string;
  /** Point the client workloads 1–5 at it. */
  readonly asTarget: boolean;
  /** Measure it in workload 7 (pipelined commands/s it sustains with the raw C client). */
  readonly asServer: boolean;
  /** It implements `bench-events` (workload 5). */
  readonly events: boolean;
  /** Smaller sizes for slow servers; per-operation figures stay comparable. */
  readonly sizes?: Partial<Sizes>;
  start(ctx: ServerContext): Promise<RunningServer>;
}

/**
 * Workload 6: a framing decoder fed a QMP-shaped byte stream in socket-sized
 * chunks (lines split anywhere); it must frame and JSON.parse every message.
 */
export interface DecoderContender {
  readonly name: string;
  /** Untimed setup before each measured `decode` of the same chunks. */
  prepare?(chunks: readonly Uint8Array[]): void;
  /** Feed every chunk in order; return how many messages came out (parsed). */
  decode(chunks: readonly Uint8Array[]): number;
}
