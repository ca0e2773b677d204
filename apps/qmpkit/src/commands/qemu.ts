import { defineCommand } from "../cli.ts";
import { NotImplementedError, UsageError } from "../errors.ts";

export const qemuCommand = defineCommand({
  name: "qemu",
  summary: "start QEMU with a QMP socket and open the shell on it (qmp-shell-wrap)",
  usage: "[options] -- QEMU-ARGS...",
  description: [
    "Starts QEMU with your arguments plus a QMP socket in a private temp dir, opens the shell",
    "on it, and removes the socket afterwards. QEMU exiting ends the shell with QEMU's exit",
    "status; leaving the shell (Ctrl-D) sends quit.",
  ].join("\n"),
  flags: {
    binary: { type: "string", value: "PATH", description: "the QEMU to run (default qemu-system-x86_64)" },
    pretty: { type: "boolean", short: "p", description: "indent replies" },
    verbose: { type: "boolean", short: "v", description: "echo each message before sending it" },
    hmp: { type: "boolean", short: "H", description: "HMP mode: send lines as human-monitor-command" },
  },
  examples: [
    "qmpkit qemu -- -machine none -nodefaults -display none",
    "qmpkit qemu --binary qemu-system-aarch64 -H -- -M virt -display none",
  ],
  async run({ positionals, rest }) {
    if (positionals.length > 0) {
      throw new UsageError(`QEMU's arguments go after '--', as in: qmpkit qemu -- ${positionals.join(" ")}`);
    }
    // Seam: spawnQemu([...rest]) from @qmpkit/testkit, then runShell on its address.
    void rest;
    throw new NotImplementedError(
      "'qmpkit qemu' is not implemented yet: it needs the testkit's QEMU launcher",
    );
  },
});
