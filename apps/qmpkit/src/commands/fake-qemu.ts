import { type CliIO, defineCommand } from "../cli.ts";

/**
 * `qmpkit fake-qemu QEMU-ARGS...`, and qmpkit run through a link named `qemu-system-*`: the fake QEMU as a
 * drop-in for `qemu-system-x86_64`. Its arguments are QEMU's, not qmpkit's, so `main.ts` hands them over
 * unparsed; this spec exists for `qmpkit --help`.
 */
export const fakeQemuCommand = defineCommand({
  name: "fake-qemu",
  summary: "run the fake QEMU with qemu-system-x86_64's command line (a drop-in for tests)",
  usage: "QEMU-ARGS...",
  description: [
    "Accepts QEMU 7.2's command line for what the fake models (-machine, -qmp, -chardev + -mon,",
    "-daemonize, -pidfile, -S, -device, -blockdev, ...) and behaves like qemu-system-x86_64:",
    "same monitors, same messages, same exit statuses. A link to the qmpkit binary named",
    "qemu-system-x86_64 does the same. QMPKIT_FAKE_QEMU_SCRIPT and QMPKIT_FAKE_QEMU_LOG steer it",
    "(see the testkit README: 'Test a program that launches QEMU').",
  ].join("\n"),
  flags: {},
  examples: ["qmpkit fake-qemu -machine q35 -qmp unix:/tmp/qmp.sock,server=on,wait=off"],
  run: async (input, io) => runFakeQemu(input.positionals, io),
});

/** Runs the emulator with QEMU's arguments; `prog` is what QEMU prints before its messages. */
export async function runFakeQemu(
  argv: readonly string[],
  io: CliIO,
  prog = "qemu-system-x86_64",
): Promise<number> {
  // Loaded here, and only the emulator's entry: the whole testkit index costs the emulator's start-up time too.
  const { runEmulator } = await import("@qmpkit/testkit/emulator");
  // A compiled binary's script path is virtual (/$bunfs/...): it relaunches itself with its own arguments.
  const script = Bun.argv[1];
  const compiled = script === undefined || script.startsWith("/$bunfs/");
  const relaunch = compiled ? [process.execPath, "fake-qemu"] : [process.execPath, script, "fake-qemu"];
  // Run through a link (libvirt's <emulator>), `LINK.env` may hold the QMPKIT_FAKE_QEMU_* settings that a
  // launcher scrubbing the environment would drop.
  const link = prog.startsWith("qemu-system-")
    ? process.argv0.includes("/")
      ? process.argv0
      : Bun.which(process.argv0)
    : null;
  return runEmulator(argv, io, { prog, relaunch, ...(link ? { envFile: `${link}.env` } : {}) });
}
