/**
 * One run of a flow on one target, normalised: what the recorder, the contract test and the fidelity report all
 * do. Also where fixtures live and how two transcripts are compared step by step.
 */
import { join } from "node:path";
import type { QemuRelease } from "../../src/index.ts";
import { runFlow, type TranscriptStep } from "./flow-runner.ts";
import { type FlowTarget, flowContext, startFake, startQemu } from "./flow-targets.ts";
import type { Flow } from "./flows/flow.ts";
import { normaliseTranscript } from "./normalise.ts";

/** The QEMU versions with recorded fixtures; a new one is a new directory and a new column in `bun run fidelity`. */
export const FIXTURE_ROOT = join(import.meta.dir, "..", "..", "fixtures", "flows");

export function fixturePath(flow: Flow, qemuVersion = "qemu-7.2"): string {
  return join(FIXTURE_ROOT, qemuVersion, flow.vm.machine ?? "q35", `${flow.name}.jsonl`);
}

export type TargetKind = "qemu" | "fake";

export async function runNormalised(
  flow: Flow,
  kind: TargetKind,
  options: { qemuBinary?: string; qemuVersion?: QemuRelease; maxWaitMs?: number } = {},
): Promise<TranscriptStep[]> {
  using ctx = await flowContext(flow);
  const target: FlowTarget =
    kind === "qemu"
      ? await startQemu(flow.vm, options.qemuBinary, options.qemuVersion)
      : await startFake(flow.vm, options.qemuVersion);
  await using _target = target;
  const transcript = await runFlow(
    flow,
    ctx,
    target.address,
    options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs },
  );
  return normaliseTranscript(transcript, { dir: ctx.dir, socketPath: target.socketPath });
}

/**
 * The fixture's lines, as text: compared with `stepLine` of a live run, so QEMU's 64-bit integers (which
 * JSON.parse would round) and key order are compared exactly.
 */
export async function readFixture(flow: Flow, qemuVersion = "qemu-7.2"): Promise<string[] | undefined> {
  const file = Bun.file(fixturePath(flow, qemuVersion));
  if (!(await file.exists())) return undefined;
  return (await file.text()).split("\n").filter((line) => line !== "");
}

/**
 * Real QEMU may run a job far enough to send its next events before the reply of the command that started it (an
 * active block-commit reaching READY within block-commit, seen under load): the reply then comes later among the
 * messages than recorded. For a command followed by a wait, when the live run has the very messages of the
 * recording across the two steps and differs only by the reply coming later, the recorded two lines stand for
 * the live ones. A reply that comes earlier than recorded, or any other difference, is left to fail.
 */
export function reconcileLateReplies(actual: readonly string[], expected: readonly string[]): string[] {
  const out = [...actual];
  for (let i = 0; i + 1 < Math.min(out.length, expected.length); i++) {
    const got = out[i] as string;
    const gotWait = out[i + 1] as string;
    const want = expected[i] as string;
    const wantWait = expected[i + 1] as string;
    if (got === want && gotWait === wantWait) continue;
    const [a, b, e, f] = [got, gotWait, want, wantWait].map((line) => JSON.parse(line) as ParsedStep);
    if (a?.send === undefined || e?.send === undefined || b?.wait === undefined || f?.wait === undefined)
      continue;
    if ([a, b, e, f].some((step) => step.incomplete !== undefined)) continue;
    if (
      JSON.stringify(a.send) !== JSON.stringify(e.send) ||
      JSON.stringify(b.wait) !== JSON.stringify(f.wait)
    )
      continue;
    const id = (a.send as { id?: unknown }).id;
    const live = [...(a.recv ?? []), ...(b.recv ?? [])].map((m) => JSON.stringify(m));
    const recorded = [...(e.recv ?? []), ...(f.recv ?? [])].map((m) => JSON.stringify(m));
    const liveReply = live.findIndex((m) => isReplyTo(m, id));
    const recordedReply = recorded.findIndex((m) => isReplyTo(m, id));
    if (liveReply < 0 || recordedReply < 0 || liveReply < recordedReply) continue;
    if (live[liveReply] !== recorded[recordedReply]) continue;
    const others = (list: string[], at: number) => list.filter((_m, index) => index !== at).join("\n");
    if (others(live, liveReply) !== others(recorded, recordedReply)) continue;
    out[i] = want;
    out[i + 1] = wantWait;
  }
  return out;
}

interface ParsedStep {
  send?: Record<string, unknown>;
  wait?: unknown;
  recv?: unknown[];
  incomplete?: string;
}

function isReplyTo(message: string, id: unknown): boolean {
  const parsed = JSON.parse(message) as Record<string, unknown>;
  return parsed.id === id && ("return" in parsed || "error" in parsed);
}

/** Per step, whether the line of `actual` equals the line of `expected` (values, key order, message order). */
export function compareSteps(
  expected: readonly string[],
  actual: readonly string[],
): { identical: number; total: number; firstDifference?: { expected: string; actual: string } } {
  let identical = 0;
  let firstDifference: { expected: string; actual: string } | undefined;
  for (const [index, want] of expected.entries()) {
    const got = actual[index] ?? "(no such step: the flow stopped earlier)";
    if (want === got) identical++;
    else firstDifference ??= { expected: want, actual: got };
  }
  const extra = actual[expected.length];
  if (extra !== undefined && firstDifference === undefined) {
    firstDifference = { expected: "(end of the flow)", actual: extra };
  }
  return { identical, total: expected.length, ...(firstDifference === undefined ? {} : { firstDifference }) };
}
