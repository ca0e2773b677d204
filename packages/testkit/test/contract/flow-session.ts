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
