/**
 * libvirt's own log of its QMP traffic (LIBVIRT_LOG_FILTERS="1:qemu.qemu_monitor …"), condensed to what a VM
 * model needs to know: which public API call was running, and every message libvirt sent and received on each
 * monitor, in order. Event timestamps go (they vary), paths become `$DIR`/`$EMULATOR`, and replies longer than
 * {@link MAX_REPLY_CHARS} keep only their shape (the probe's schema and property lists are the profiles' job).
 */

/** One line of the condensed trace. */
export type TraceEntry =
  | { readonly api: string }
  | { readonly monitor: number; readonly open: true }
  | { readonly monitor: number; readonly close: true }
  | { readonly monitor: number; readonly send: unknown; readonly withFd?: true }
  | { readonly monitor: number; readonly recv: unknown }
  | { readonly monitor: number; readonly event: string; readonly data?: unknown };

/** Replies longer than this (as JSON) are replaced by a note of their shape and size. */
export const MAX_REPLY_CHARS = 2000;

/** libvirt API calls that mark no step of their own (lookups, reference counting, keepalive). */
const QUIET_APIS = new Set([
  "virConnectIsAlive",
  "virConnectOpenInternal",
  "virConnectRegisterCloseCallback",
  "virConnectUnregisterCloseCallback",
  "virConnectSetKeepAlive",
  "virDomainFree",
  "virDomainGetName",
  "virDomainGetID",
  "virDomainLookupByName",
  "virDomainIsActive",
  "virDomainSnapshotNum",
  "virDomainHasManagedSaveImage",
]);

/**
 * The log filters that give {@link parseMonitorLog} what it reads: public API calls (`libvirt` holds the
 * QEMU-specific ones such as virDomainQemuMonitorCommand) and the monitor's traffic.
 */
export const MONITOR_LOG_FILTERS = "1:libvirt 1:libvirt.domain 1:libvirt.host 1:qemu.qemu_monitor";

const LOG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+\d{4}: \d+: (\w+) : (\w+):\d+ : (.*)$/;

function shapeOf(value: unknown): string {
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (value !== null && typeof value === "object") return `object with ${Object.keys(value).length} keys`;
  return typeof value;
}

function condenseReply(reply: Record<string, unknown>): unknown {
  const text = JSON.stringify(reply);
  if (text.length <= MAX_REPLY_CHARS || !("return" in reply)) return reply;
  return { ...reply, return: `(condensed: ${shapeOf(reply.return)}, ${text.length} chars)` };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { unparsed: text };
  }
}

/**
 * Reads libvirt's log text into a condensed trace. Monitors are numbered in the order libvirt opened them
 * (libvirt's own ids are heap addresses, reused after a close). `substitutions` maps literal strings (the run's
 * dir, the emulator path) to their placeholders.
 */
export function parseMonitorLog(text: string, substitutions: Record<string, string> = {}): TraceEntry[] {
  const entries: TraceEntry[] = [];
  const monitors = new Map<string, number>();
  let lastOpened = 0;
  let opened = 0;
  const monitorOf = (address: string): number => monitors.get(address) ?? 0;
  let substituted = text;
  for (const [from, to] of Object.entries(substitutions)) substituted = substituted.replaceAll(from, to);
  const lines = substituted.split("\n");
  for (let i = 0; i < lines.length; i++) {
    // Sent messages end in "\r\n" (QMP's terminator), and "." does not match "\r".
    const match = LOG_LINE.exec((lines[i] ?? "").replace(/\r$/, ""));
    if (!match) continue;
    const [, , where, rest = ""] = match;
    if (where === "qemuMonitorOpenInternal") {
      const address = /mon=(0x[0-9a-f]+)/.exec(rest)?.[1];
      if (!address) continue;
      opened += 1;
      monitors.set(address, opened);
      lastOpened = opened;
      entries.push({ monitor: opened, open: true });
    } else if (where === "qemuMonitorClose") {
      const address = /mon=(0x[0-9a-f]+)/.exec(rest)?.[1] ?? "";
      entries.push({ monitor: monitorOf(address), close: true });
    } else if (where === "qemuMonitorSend") {
      // The message ends in "\r\n", so its " fd=N" is on the next line of the log.
      const sent = /^QEMU_MONITOR_SEND_MSG: mon=(0x[0-9a-f]+) msg=(.*)$/.exec(rest);
      if (!sent) continue;
      const fd = /^ fd=(-?\d+)/.exec(lines[i + 1] ?? "")?.[1];
      const entry = { monitor: monitorOf(sent[1] ?? ""), send: parseJson(sent[2] ?? "") };
      entries.push(fd !== undefined && fd !== "-1" ? { ...entry, withFd: true } : entry);
    } else if (where === "qemuMonitorJSONIOProcessLine") {
      const reply = /^QEMU_MONITOR_RECV_REPLY: mon=(0x[0-9a-f]+) reply=(.*)$/.exec(rest);
      const event = /^QEMU_MONITOR_RECV_EVENT: mon=(0x[0-9a-f]+) event=(.*)$/.exec(rest);
      if (reply) {
        const parsed = parseJson(reply[2] ?? "") as Record<string, unknown>;
        entries.push({ monitor: monitorOf(reply[1] ?? ""), recv: condenseReply(parsed) });
      } else if (event) {
        const parsed = parseJson(event[2] ?? "") as { event?: string; data?: unknown };
        const entry = { monitor: monitorOf(event[1] ?? ""), event: String(parsed.event) };
        entries.push(parsed.data === undefined ? entry : { ...entry, data: parsed.data });
      } else if (rest.startsWith('Line [{"QMP"')) {
        // The greeting is logged only as a raw line, without the monitor: it belongs to the one just opened.
        entries.push({ monitor: lastOpened, recv: parseJson(rest.slice("Line [".length, -1)) });
      }
    } else if (/^vir(Domain|Connect)\w+$/.test(where ?? "") && !QUIET_APIS.has(where ?? "")) {
      entries.push({ api: where ?? "" });
    }
  }
  return entries;
}

/** The trace as JSON Lines (one entry a line), the fixture's format. */
export function traceToJsonl(entries: readonly TraceEntry[]): string {
  return `${entries.map((e) => JSON.stringify(e)).join("\n")}\n`;
}

/** Parses {@link traceToJsonl}'s output. */
export function traceFromJsonl(text: string): TraceEntry[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as TraceEntry);
}

/** The commands libvirt sent, in order (`execute` names; HMP passthrough as `human-monitor-command: <cmd>`). */
export function commandsSent(entries: readonly TraceEntry[]): string[] {
  const commands: string[] = [];
  for (const entry of entries) {
    if (!("send" in entry)) continue;
    const message = entry.send as { execute?: string; arguments?: { "command-line"?: string } };
    const name = message.execute ?? "(no execute)";
    const hmp = message.arguments?.["command-line"];
    commands.push(hmp === undefined ? name : `${name}: ${hmp}`);
  }
  return commands;
}

/** The distinct commands of {@link commandsSent}, sorted. */
export function commandSet(commands: readonly string[]): string[] {
  return [...new Set(commands)].sort();
}

/** How often each command was sent, most frequent first (ties by name). */
export function commandCounts(entries: readonly TraceEntry[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    if (!("send" in entry)) continue;
    const name = (entry.send as { execute?: string }).execute ?? "(no execute)";
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** One command libvirt sent on a monitor, with the reply that came back (undefined when none came). */
export interface Exchange {
  readonly send: Record<string, unknown>;
  /** A descriptor went with it (getfd, add-fd). */
  readonly withFd: boolean;
  readonly reply: Record<string, unknown> | undefined;
}

/** The commands sent on `monitor`, in order, each with its reply (matched by id). */
export function exchangesOn(entries: readonly TraceEntry[], monitor: number): Exchange[] {
  const sends: { send: Record<string, unknown>; withFd: boolean }[] = [];
  const replies = new Map<string, Record<string, unknown>>();
  for (const entry of entries) {
    if (!("monitor" in entry) || entry.monitor !== monitor) continue;
    if ("send" in entry) {
      sends.push({ send: entry.send as Record<string, unknown>, withFd: entry.withFd === true });
    } else if ("recv" in entry) {
      const reply = entry.recv as Record<string, unknown>;
      if (reply.id !== undefined) replies.set(JSON.stringify(reply.id), reply);
    }
  }
  return sends.map(({ send, withFd }) => ({ send, withFd, reply: replies.get(JSON.stringify(send.id)) }));
}
