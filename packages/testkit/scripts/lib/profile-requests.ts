/**
 * What known VM managers send, as captured from their QMP logs (profiles/requests/*.json): the recorder records
 * these exact argument combinations, and the tests check that a profile answers every one of them. Commands
 * that change state are listed too (they are part of the sequence) but are the VM model's business, not the
 * profile's.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One captured request: which profile's machine it was sent to, and what was sent. */
export interface CapturedRequest {
  machine: string;
  command: string;
  args?: unknown;
}

/** Commands that change the VM: replaying them while recording would skew what follows. */
export const STATEFUL_COMMANDS = new Set([
  "qmp_capabilities",
  "migrate-set-capabilities",
  "cont",
  "stop",
  "balloon",
]);

export const REQUESTS_DIR = join(import.meta.dir, "..", "..", "profiles", "requests");

/** Every captured request for `machine` (from all files), minus the state-changing ones. */
export function readProfileRequests(machine: string): { command: string; args?: unknown }[] {
  const out: { command: string; args?: unknown }[] = [];
  for (const file of readdirSync(REQUESTS_DIR).filter((name) => name.endsWith(".json"))) {
    const captured = JSON.parse(readFileSync(join(REQUESTS_DIR, file), "utf8")) as {
      requests: CapturedRequest[];
    };
    for (const request of captured.requests) {
      if (request.machine !== machine || STATEFUL_COMMANDS.has(request.command)) continue;
      out.push(
        request.args === undefined
          ? { command: request.command }
          : { command: request.command, args: request.args },
      );
    }
  }
  return out;
}
