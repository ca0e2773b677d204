import { formatAddress } from "../address.ts";
import { CONNECTION_FLAGS, defineCommand } from "../cli.ts";
import { CliUsageError } from "../errors.ts";
import { detectStyle, formatJson } from "../format.ts";
import { connectionOptions, open } from "../session.ts";
import { findQemus, type QemuInstance } from "../vms.ts";

/** How long `ps` waits for each monitor's answer: a monitor another client holds never answers. */
const PROBE_TIMEOUT_MS = 1500;

/** What `ps` shows for one QEMU. */
export interface PsRow {
  readonly pid: number;
  readonly name: string | null;
  readonly status: string;
  readonly qmp: string[];
}

/** Asks the first QMP monitor for the run state; says why when it cannot. */
async function probe(
  vm: QemuInstance,
  io: Parameters<typeof open>[0],
  options: ReturnType<typeof connectionOptions>,
): Promise<string> {
  const address = vm.qmp[0];
  if (address === undefined) return "no QMP monitor";
  try {
    const session = await open(
      io,
      { kind: "address", address },
      { ...options, connectTimeoutMs: PROBE_TIMEOUT_MS },
    );
    try {
      const status = (await session.execute("query-status")) as { status?: string };
      return status.status ?? "unknown";
    } finally {
      await session.close().catch(() => {});
    }
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    if (/timed out|no QMP greeting|busy/i.test(text)) return "busy (another client has the monitor)";
    if (/EACCES|permission/i.test(text)) return "no permission";
    return "unreachable";
  }
}

/** The table `ps` prints on a terminal and to pipes alike (fixed columns, one QEMU per line). */
export function renderPsTable(rows: readonly PsRow[]): string {
  const header: [string, string, string, string] = ["PID", "NAME", "STATUS", "QMP"];
  const cells = rows.map((r): [string, string, string, string] => [
    String(r.pid),
    r.name ?? "-",
    r.status,
    r.qmp.join(" ") || "-",
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...[header, ...cells].map((c) => c[i]?.length ?? 0)));
  return [header, ...cells]
    .map((c) =>
      c
        .map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export const psCommand = defineCommand({
  name: "ps",
  summary: "list the QEMUs running on this host, with their names, QMP addresses and status",
  usage: "[options] [NAME]",
  description: [
    "Reads every qemu-system-* process's command line (/proc): the -name, and the QMP monitors it",
    "serves (-qmp, or -chardev socket + -mon mode=control; a monitor handed over as fd=N, as",
    "libvirt does, is traced to its socket path). Each monitor is asked for query-status; QEMU",
    "serves one client at a time, so a monitor held by libvirt or another shell shows as busy.",
    "A NAME from this list works wherever an ADDRESS does: 'qmpkit shell vm1'.",
  ].join("\n"),
  flags: {
    ...CONNECTION_FLAGS,
    json: { type: "boolean", description: "one JSON object per QEMU instead of the table" },
    "no-status": { type: "boolean", description: "do not connect to ask for the status" },
  },
  examples: ["qmpkit ps", "qmpkit ps --json | jq -r .name", "qmpkit ps vm1", "qmpkit shell vm1"],
  async run({ values, positionals }, io) {
    if (values.fake) throw new CliUsageError("ps lists real QEMU processes; --fake has none to show");
    if (positionals.length > 1) throw new CliUsageError(`unexpected argument '${positionals[1]}'`);
    const wanted = positionals[0];
    const options = connectionOptions(values);
    const vms = (await findQemus()).filter((vm) => wanted === undefined || vm.name === wanted);
    const rows: PsRow[] = await Promise.all(
      vms.map(async (vm) => ({
        pid: vm.pid,
        name: vm.name ?? null,
        status: values["no-status"] ? "-" : await probe(vm, io, options),
        qmp: vm.qmp.map(formatAddress),
      })),
    );
    if (values.json) {
      const style = detectStyle(io.stdout, io.env, false);
      for (const row of rows) io.stdout.write(`${formatJson(row, style)}\n`);
    } else if (rows.length === 0) {
      io.stderr.write(
        wanted === undefined ? "no QEMU is running on this host\n" : `no QEMU named '${wanted}'\n`,
      );
    } else {
      io.stdout.write(`${renderPsTable(rows)}\n`);
    }
    return wanted !== undefined && rows.length === 0 ? 1 : 0;
  },
});
