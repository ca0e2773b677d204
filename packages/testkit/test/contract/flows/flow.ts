/**
 * The vocabulary of a flow: what a VM manager does to a q35 VM, step by step, written once and run against real
 * QEMU and the fake alike. No step may mean something different on either side, so there are only three kinds:
 * send a command, send a command with a file descriptor attached, and wait (bounded) for events.
 */

/** How the VM is started. Each field has one meaning on QEMU (a command-line option) and on the fake. */
export interface VmConfig {
  /** The machine type: q35 (what a VM manager starts) or none (what libvirt probes). @default "q35" */
  machine?: "q35" | "none";
  /** `-S`: start in `prelaunch`, the way a VM manager always starts QEMU. */
  startPaused?: boolean;
  /** `-no-shutdown`: a guest shutdown pauses the VM instead of ending QEMU. */
  noShutdown?: boolean;
  /** `-no-reboot`: a reset request (the guest's or `system_reset`) becomes a shutdown. */
  noReboot?: boolean;
  /** `-incoming defer`: start in `inmigrate`, waiting for `migrate-incoming`. */
  incomingDefer?: boolean;
  /** Devices given on the command line, as QEMU's JSON `-device` strings take them. */
  devices?: Record<string, unknown>[];
}

/** Send one command and take everything received up to and including its reply. */
export interface CommandStep {
  kind: "command";
  execute: string;
  arguments?: Record<string, unknown>;
  /** Pass an open descriptor of this file (opened read/write) just before the command (for `getfd`, `add-fd`). */
  fdOf?: string;
  /**
   * Send again (bounded) until the `return` has these members; only the last reply is recorded. For a state QEMU
   * reaches with no event to wait for (10.0 enters `postmigrate` just after its MIGRATION `completed`).
   */
  until?: Record<string, unknown>;
}

/** Take everything received until `count` events named `event` (counted from the step's start) arrived. */
export interface WaitStep {
  kind: "wait";
  event: string;
  count: number;
  /**
   * Count only events whose `data` has these members with these values: waits for a state rather than for a
   * number of steps, which differs between QEMU versions (10.0's migration passes through a `device` state).
   */
  data?: Record<string, unknown>;
  /** A bound, not a synchronisation: the flow fails if the events do not come within it. */
  timeoutMs: number;
}

export type Step = CommandStep | WaitStep;

/** What a flow knows while it builds its steps: where it may put files. */
export interface FlowContext {
  /** A fresh private directory for this run (normalised to `$DIR` in transcripts). */
  readonly dir: string;
}

export interface Flow {
  /** The fixture's file name (without `.jsonl`). */
  readonly name: string;
  /** What a VM manager is doing, in a sentence. */
  readonly description: string;
  readonly vm: VmConfig;
  /** Prepares host files (not QEMU state) before the VM starts, e.g. an image of a known size. */
  setup?(ctx: FlowContext): Promise<void>;
  steps(ctx: FlowContext): Step[];
}

export function cmd(execute: string, args?: Record<string, unknown>): CommandStep {
  return args === undefined ? { kind: "command", execute } : { kind: "command", execute, arguments: args };
}

export function hmp(commandLine: string): CommandStep {
  return cmd("human-monitor-command", { "command-line": commandLine });
}

/** `cmd` sent until its return has `until`'s members (see {@link CommandStep.until}). */
export function cmdUntil(execute: string, until: Record<string, unknown>): CommandStep {
  return { ...cmd(execute), until };
}

export function withFd(path: string, execute: string, args?: Record<string, unknown>): CommandStep {
  return { ...cmd(execute, args), fdOf: path };
}

export function waitFor(event: string, count = 1, timeoutMs = 10_000): WaitStep {
  return { kind: "wait", event, count, timeoutMs };
}

/** Waits for the first `event` whose data has `data`'s members, e.g. MIGRATION `{ status: "completed" }`. */
export function waitForData(event: string, data: Record<string, unknown>, timeoutMs = 10_000): WaitStep {
  return { kind: "wait", event, count: 1, data, timeoutMs };
}
