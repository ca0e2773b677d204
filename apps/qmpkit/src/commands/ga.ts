import { parseAddress } from "../address.ts";
import { defineCommand } from "../cli.ts";
import { NotImplementedError, UsageError } from "../errors.ts";
import { buildExecMessage } from "./exec.ts";

export const gaCommand = defineCommand({
  name: "ga",
  summary: "run one QEMU guest agent (qemu-ga) command",
  usage: "[options] ADDRESS COMMAND [KEY=VALUE ...]",
  description: [
    "Talks to a guest agent's socket (the host end of its virtio-serial channel): sends",
    "guest-sync-delimited to flush stale replies, then COMMAND, and prints the return value as",
    "JSON. Arguments work as in 'qmpkit exec'.",
  ].join("\n"),
  flags: {
    pretty: { type: "boolean", short: "p", description: "indent the JSON even when not on a terminal" },
    timeout: {
      type: "string",
      value: "SECONDS",
      description: "fail if the agent takes longer than SECONDS (default 10)",
    },
    "dry-run": { type: "boolean", short: "n", description: "print the message instead of sending it" },
  },
  examples: ["qmpkit ga unix:/run/qga.sock guest-ping", "qmpkit ga /run/qga.sock guest-exec path=/bin/true"],
  async run({ values, positionals, rest }, io) {
    const [address, ...words] = [...positionals, ...rest];
    if (address === undefined || words.length === 0) {
      throw new UsageError(
        "no guest agent address given; pass one as unix:PATH or tcp:HOST:PORT (a plain path works too)",
      );
    }
    parseAddress(address);
    const message = buildExecMessage(words, false);
    if (values["dry-run"]) {
      io.stdout.write(`${JSON.stringify(message, null, values.pretty ? 2 : undefined)}\n`);
      return 0;
    }
    // Seam: a QGA client from @qmpkit/qmp (same framing, guest-sync handshake).
    throw new NotImplementedError(
      "'qmpkit ga' is not implemented yet: the guest agent client is still being written",
    );
  },
});
