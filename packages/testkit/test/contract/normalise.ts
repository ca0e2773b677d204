/**
 * Everything in a flow's transcript that varies from run to run on the same QEMU, in one list, each with why.
 * Anything not listed here is compared exactly (values, key order, event order relative to replies). A rule
 * replaces a value with a marker naming the rule, so the fake must still send the field, in its place.
 */
import type { TranscriptStep } from "./flow-runner.ts";

/** A field whose value differs between two runs of the same flow on the same QEMU. */
export interface VaryingField {
  /** The member's name. */
  key: string;
  /** Where it varies: an event name, or the command whose reply holds it; "*" for anywhere. */
  in: string;
  reason: string;
}

export const VARYING_FIELDS: readonly VaryingField[] = [
  { key: "timestamp", in: "*", reason: "the host's wall-clock time when QEMU emitted the event" },
  { key: "thread-id", in: "query-cpus-fast", reason: "the host thread id of a vCPU thread" },
  { key: "thread-id", in: "query-iothreads", reason: "the host thread id of an iothread" },
  { key: "actual-size", in: "query-named-block-nodes", reason: "bytes the host filesystem allocated" },
  { key: "actual-size", in: "query-block", reason: "bytes the host filesystem allocated" },
  { key: "fd", in: "add-fd", reason: "the descriptor number QEMU's process happened to receive" },
  { key: "fd", in: "query-fdsets", reason: "the descriptor number QEMU's process happened to receive" },
  // A migration's figures depend on how long it ran and on what the guest dirtied meanwhile.
  ...[
    "setup-time",
    "total-time",
    "downtime",
    "expected-downtime",
    "transferred",
    "remaining",
    "duplicate",
    "normal",
    "normal-bytes",
    "mbps",
    "pages-per-second",
    "dirty-sync-count",
    "precopy-bytes",
    "downtime-bytes",
    "dirty-pages-rate",
  ].map((key) => ({ key, in: "query-migrate", reason: "a migration counter or duration measured by QEMU" })),
];

/** Host paths that differ per run, replaced by a name wherever they occur inside a string. */
export interface RunPaths {
  /** The flow's private work dir (its images, dumps, migration streams). */
  dir: string;
  /** The monitor's socket path (appears in `query-chardev`). */
  socketPath: string;
}

function placeholder(field: VaryingField): string {
  return `<varies: ${field.key}>`;
}

function replacePaths(text: string, paths: RunPaths): string {
  return text.replaceAll(paths.socketPath, "$QMP_SOCKET").replaceAll(paths.dir, "$DIR");
}

function walk(value: unknown, context: string, paths: RunPaths): unknown {
  if (typeof value === "string") return replacePaths(value, paths);
  if (Array.isArray(value)) return value.map((item) => walk(item, context, paths));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    const field = VARYING_FIELDS.find((f) => f.key === key && (f.in === "*" || f.in === context));
    out[key] = field === undefined ? walk(member, context, paths) : placeholder(field);
  }
  return out;
}

/** The transcript with every varying field and path replaced; the input is not modified. */
export function normaliseTranscript(steps: readonly TranscriptStep[], paths: RunPaths): TranscriptStep[] {
  return steps.map((step) => {
    const command = typeof step.send?.execute === "string" ? step.send.execute : "";
    const out: TranscriptStep = { step: step.step };
    if (step.greeting !== undefined) out.greeting = step.greeting;
    if (step.send !== undefined) out.send = walk(step.send, "", paths) as Record<string, unknown>;
    if (step.fd !== undefined) out.fd = replacePaths(step.fd, paths);
    if (step.wait !== undefined) out.wait = step.wait;
    if (step.recv !== undefined) {
      out.recv = step.recv.map((message) => {
        const event = (message as { event?: unknown }).event;
        return walk(message, typeof event === "string" ? event : command, paths);
      });
    }
    if (step.incomplete !== undefined) out.incomplete = step.incomplete;
    return out;
  });
}

// Bun has JSON.rawJSON (ES2025); TypeScript's lib does not declare it yet.
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** One line of a fixture: a step as JSON, with QEMU's 64-bit integers printed exactly. */
export function stepLine(step: TranscriptStep): string {
  return JSON.stringify(step, (_key, value) =>
    typeof value === "bigint" ? rawJson(value.toString()) : value,
  );
}

/** The whole transcript as fixture text (one step per line). */
export function transcriptText(steps: readonly TranscriptStep[]): string {
  return `${steps.map(stepLine).join("\n")}\n`;
}
