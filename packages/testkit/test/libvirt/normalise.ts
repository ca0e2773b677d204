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
  {
    what: "time stamps of libvirt's and QEMU's (-msg timestamp=on) lines in a domain log, dropped",
    why: "wall-clock time",
    apply: (text) =>
      text
        .replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+\d{4}: /gm, "")
        .replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z /gm, ""),
  },
  {
    what: "a domain log's 'starting up' line: QEMU's package build, kernel and hostname → <host>",
    why: "the host's kernel and name, and the Debian revision of the installed QEMU 7.2 package",
    apply: (text) =>
      text.replace(/qemu version: [^,]*, kernel: [^,]*, hostname: .*$/gm, "qemu version: <host>"),
  },
  {
    what: "the PATH libvirt passes on to the emulator → <PATH>",
    why: "the test runner's environment",
    apply: (text) => text.replace(/^PATH=.* \\$/gm, "PATH=<PATH> \\"),
  },
  {
    what: "the monitor's inherited descriptor number (-chardev socket,id=charmonitor,fd=N) → fd=N",
    why: "libvirt passes its lowest free descriptor; its own descriptor table decides the number (during the real QEMU 7.2 run virsh holds one more descriptor at each start, not traced to its holder: after the probe both tables are identical), and the emulator only receives it",
    apply: (text) => text.replace(/(-chardev socket,id=charmonitor,)fd=\d+,/g, "$1fd=N,"),
  },
  {
    what: "the sender's pid in 'terminating on signal N from pid P (virsh)' → <pid>",
    why: "process ids",
    apply: (text) => text.replace(/from pid \d+ /g, "from pid <pid> "),
  },
  {
    what: "the sender's name in 'terminating on signal N from pid P (NAME)' → (<sender>)",
    why: "QEMU reads it from /proc/P/cmdline: the Debian 13 tree that runs QEMU 10.0 here is a chroot without /proc, where QEMU prints (<unknown process>) for virsh",
    apply: (text) => text.replace(/(terminating on signal \d+ from pid \S+ )\([^)\n]*\)$/gm, "$1(<sender>)"),
  },
];

/** Applies every rule, in order, to one step's output. */
export function normaliseOutput(text: string, run: Pick<ScenarioRun, "dir" | "emulator">): string {
  return NORMALISE_RULES.reduce((acc, rule) => rule.apply(acc, run), text);
}

/** The run's steps with their output normalised, as `{ step name: output }` in scenario order, then the logs. */
export function normaliseRun(run: ScenarioRun): Record<string, string> {
  const steps: Record<string, string> = {};
  for (const step of run.steps) steps[step.name] = normaliseOutput(step.output, run);
  for (const [domain, log] of Object.entries(run.emulatorLogs))
    steps[`${LOG_STEP}${domain}`] = normaliseOutput(log, run);
  return steps;
}

/** Each domain's log is compared as one more step, named `log NAME`, after the scenario's steps. */
export const LOG_STEP = "log ";

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
