/** Which contract flows the fake is excused from, and why (read by contract-flows.test.ts and the emulator's flows). */

/**
 * The flows the fake does not reproduce yet, each with what is missing. This is the only place a flow may be
 * excused; remove an entry as soon as the fake passes it (`bun run fidelity` shows how far each one gets).
 */
export const FAKE_PENDING: Readonly<Record<string, string>> = {};

/**
 * Flows the fake passes as 7.2 but not yet as 10.0 (`createFakeQemu({ qemuVersion: "10.0" })` against the 10.0
 * fixtures), with what differs. A flow pending on 7.2 is pending on 10.0 too.
 */
export const FAKE_PENDING_10: Readonly<Record<string, string>> = {};

/** Why the fake is excused from `flow` as QEMU `qemuVersion`, or undefined when it must pass it. */
export function pendingOnFake(flow: string, qemuVersion: "7.2" | "10.0"): string | undefined {
  return FAKE_PENDING[flow] ?? (qemuVersion === "10.0" ? FAKE_PENDING_10[flow] : undefined);
}
