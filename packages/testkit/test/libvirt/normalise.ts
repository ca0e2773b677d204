/**
 * What varies between two runs of the libvirt scenario, or between two hosts, and nothing else. Every rule says
 * why its value cannot be compared; anything not listed here must be identical on the fake and on real QEMU.
 */
import type { ScenarioRun } from "./scenario.ts";

/** One normalisation: what it replaces and why that value says nothing about the emulator under test. */
export interface NormaliseRule {
  readonly what: string;
  readonly why: string;
  readonly apply: (text: string, run: Pick<ScenarioRun, "dir" | "emulator">) => string;
}

export const NORMALISE_RULES: readonly NormaliseRule[] = [
  {
    what: "the run's private dir (images, domain XML) → $DIR",
    why: "a fresh temp dir per run (mkdtemp)",
    apply: (text, run) => text.replaceAll(run.dir, "$DIR"),
  },
  {
    what: "the emulator's path → $EMULATOR",
    why: "the binary under test: /usr/bin/qemu-system-x86_64 or the fake's link",
    apply: (text, run) => text.replaceAll(run.emulator, "$EMULATOR"),
  },
  {
    what: "pty numbers (/dev/pts/N) → /dev/pts/N",
    why: "the host's pty allocator picks the serial console's pty",
    apply: (text) => text.replace(/\/dev\/pts\/\d+/g, "/dev/pts/N"),
  },
  {
    what: "dommemstat's rss → <host RSS>",
    why: "libvirt reads the emulator process's resident set size from /proc, not from QMP",
    apply: (text) => text.replace(/^rss \d+$/gm, "rss <host RSS>"),
  },
  {
    what: "domblkinfo's allocation figures → <allocated>",
    why: "blocks the host filesystem allocated to the image file (differs per filesystem, and per run while xattrs come and go)",
    apply: (text) =>
      text
        .replace(/^Allocation:( +)\d+$/gm, "Allocation:$1<allocated>")
        .replace(/^( \S+ +\d+ +)\d+( +\d+)$/gm, "$1<allocated>$2"),
  },
  {
    what: "domcapabilities' firmware file paths (<value>/…</value>) dropped",
    why: "libvirt lists the host's firmware descriptors (the ovmf package), without asking the emulator",
    apply: (text) => text.replace(/^ *<value>\/[^<]*<\/value>\n/gm, ""),
  },
];

/** Applies every rule, in order, to one step's output. */
export function normaliseOutput(text: string, run: Pick<ScenarioRun, "dir" | "emulator">): string {
  return NORMALISE_RULES.reduce((acc, rule) => rule.apply(acc, run), text);
}

/** The run's steps with their output normalised, as `{ step name: output }` in scenario order. */
export function normaliseRun(run: ScenarioRun): Record<string, string> {
  const steps: Record<string, string> = {};
  for (const step of run.steps) steps[step.name] = normaliseOutput(step.output, run);
  return steps;
}

const SECTION = "=== step: ";

/** The fixture's text form: each step under a `=== step: NAME` header, readable and diffable. */
export function stepsToText(steps: Record<string, string>): string {
  return Object.entries(steps)
    .map(([name, output]) => `${SECTION}${name}\n${output}`)
    .join("");
}

/** Parses {@link stepsToText}'s output. */
export function stepsFromText(text: string): Record<string, string> {
  const steps: Record<string, string> = {};
  for (const part of text.split(SECTION).slice(1)) {
    const newline = part.indexOf("\n");
    steps[part.slice(0, newline)] = part.slice(newline + 1);
  }
  return steps;
}

/** Names of the steps whose output differs (or exists on one side only), in `expected`'s order. */
export function differingSteps(expected: Record<string, string>, actual: Record<string, string>): string[] {
  const names = [...Object.keys(expected), ...Object.keys(actual).filter((n) => !(n in expected))];
  return names.filter((name) => expected[name] !== actual[name]);
}
