/**
 * The libvirt scenario: one `virsh` session on libvirt's embedded QEMU driver (`qemu:///embed?root=DIR`, no
 * daemon) that defines, starts and drives q35 domains whose `<emulator>` is the binary under test. Run against
 * real QEMU 7.2 it gives the recorded fixture; run against the fake it must give the same output once both are
 * normalised (normalise.ts). Each step's output is captured on its own, so a difference names the step.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { MONITOR_LOG_FILTERS } from "./monitor-trace.ts";

/** One virsh command of the scenario and the name its output is filed under. */
export interface ScenarioStep {
  readonly name: string;
  /** virsh's arguments; `$DIR` and `$EMULATOR` are replaced when the scenario runs. */
  readonly args: readonly string[];
}

/** What one run produced. */
export interface ScenarioRun {
  /** Each step's stdout and stderr (interleaved as virsh wrote them), in scenario order. */
  readonly steps: { readonly name: string; readonly output: string }[];
  /** The run's private dir (replaced by `$DIR` when normalising). */
  readonly dir: string;
  /** The emulator the domains ran on (replaced by `$EMULATOR` when normalising). */
  readonly emulator: string;
  /** libvirt's own log of every QMP message it sent and received (monitor-trace.ts reads it). */
  readonly monitorLog: string;
  /**
   * Each domain's log (DIR/root/log/qemu/NAME.log, by domain name): the command line libvirt built from what the
   * probe answered, and the emulator's own stderr (ptys, the signal that ended it).
   */
  readonly emulatorLogs: Readonly<Record<string, string>>;
  /** virsh's exit status (1 when any step failed, which some steps do on purpose). */
  readonly exitCode: number;
  /** Wall time of the virsh session. */
  readonly durationMs: number;
}

export const DOMAIN = "qmpkit-lv";
export const PAUSED_DOMAIN = "qmpkit-lv-paused";
const STEP_MARKER = "@@qmpkit-step ";

const d = DOMAIN;
const p = PAUSED_DOMAIN;

/** The scenario, in order. Names are unique so a failing comparison points at one step. */
export const SCENARIO: readonly ScenarioStep[] = [
  step(
    "domcapabilities",
    "domcapabilities",
    "--emulatorbin",
    "$EMULATOR",
    "--virttype",
    "qemu",
    "--machine",
    "q35",
  ),
  step("define", "define", "$DIR/domain.xml"),
  step("start", "start", d),
  step("domstate after start", "domstate", d, "--reason"),
  step("domblklist", "domblklist", d),
  step("domiflist", "domiflist", d),
  step("attach-device nic", "attach-device", d, "$DIR/nic.xml", "--live"),
  step("attach-device raw disk", "attach-device", d, "$DIR/raw-disk.xml", "--live"),
  step("domiflist after attach", "domiflist", d),
  step("domblklist after attach", "domblklist", d, "--details"),
  step("dumpxml live", "dumpxml", d),
  step("domblkinfo vdb", "domblkinfo", d, "vdb"),
  step("blockresize vdb", "blockresize", d, "vdb", "32M"),
  step("domblkinfo vdb after resize", "domblkinfo", d, "vdb"),
  step("domblkinfo all", "domblkinfo", d, "--all"),
  step("suspend", "suspend", d),
  step("domstate after suspend", "domstate", d, "--reason"),
  step("resume", "resume", d),
  step("domstate after resume", "domstate", d, "--reason"),
  step("qemu-monitor-command query-status", "qemu-monitor-command", d, '{"execute":"query-status"}'),
  step(
    "qemu-monitor-command query-name pretty",
    "qemu-monitor-command",
    d,
    "--pretty",
    '{"execute":"query-name"}',
  ),
  step("qemu-monitor-command hmp info status", "qemu-monitor-command", d, "--hmp", "info status"),
  step("qemu-monitor-command hmp info balloon", "qemu-monitor-command", d, "--hmp", "info balloon"),
  step("domjobinfo", "domjobinfo", d),
  step("dommemstat", "dommemstat", d),
  step("setmem live", "setmem", d, "200M", "--live"),
  step("dommemstat after setmem", "dommemstat", d),
  step(
    "qemu-monitor-command hmp info balloon after setmem",
    "qemu-monitor-command",
    d,
    "--hmp",
    "info balloon",
  ),
  step("blockjob vda before copy", "blockjob", d, "vda", "--info"),
  // libvirt creates the destination with blockdev-create, mirrors to READY, then pivots in a transaction.
  step(
    "blockcopy vda --pivot",
    ...[
      "blockcopy",
      d,
      "vda",
      "$DIR/copy.qcow2",
      "--format",
      "qcow2",
      "--transient-job",
      "--wait",
      "--pivot",
    ],
  ),
  step("domblklist after blockcopy", "domblklist", d),
  step("blockjob vda after pivot", "blockjob", d, "vda", "--info"),
  // A SCSI disk's unplug is completed by QEMU itself (no guest involved): DEVICE_DELETED comes at once.
  step("attach-device scsi disk", "attach-device", d, "$DIR/scsi-disk.xml", "--live"),
  step("domblklist after scsi attach", "domblklist", d),
  step("detach-device scsi disk", "detach-device", d, "$DIR/scsi-disk.xml", "--live"),
  step("domblklist after scsi detach", "domblklist", d),
  step("vcpucount", "vcpucount", d),
  step("reset", "reset", d),
  step("domstate after reset", "domstate", d, "--reason"),
  step("shutdown", "shutdown", d),
  // No guest OS answers the ACPI power button, so the domain keeps running (as with real QEMU).
  step("domstate after shutdown", "domstate", d, "--reason"),
  // save = stop + migrate to an fd libvirt passes with getfd; restore = a new emulator with -incoming defer.
  step("save", "save", d, "$DIR/saved.img"),
  step("domstate after save", "domstate", d, "--reason"),
  step("restore", "restore", "$DIR/saved.img"),
  step("domstate after restore", "domstate", d, "--reason"),
  step("domblklist after restore", "domblklist", d),
  step("domiflist after restore", "domiflist", d),
  step("destroy", "destroy", d),
  step("domstate after destroy", "domstate", d, "--reason"),
  step("define paused domain", "define", "$DIR/paused-domain.xml"),
  step("start --paused", "start", p, "--paused"),
  step("domstate paused domain", "domstate", p, "--reason"),
  // A PCIe NIC's unplug needs the guest OS to acknowledge it, and there is none: libvirt waits 5 s for
  // DEVICE_DELETED, reports success anyway, and the NIC stays (the README says what "identical" means here).
  // On the paused domain because a reset completes a pending unplug, and after a running domain's reset
  // SeaBIOS resets the machine again, at a moment no step can wait for.
  step("attach-device nic to paused domain", "attach-device", p, "$DIR/nic.xml", "--live"),
  step("detach-device nic from paused domain", "detach-device", p, "$DIR/nic.xml", "--live"),
  step("domiflist paused domain after nic detach", "domiflist", p),
  step("resume paused domain", "resume", p),
  step("domstate paused domain after resume", "domstate", p, "--reason"),
  step("destroy paused domain", "destroy", p),
];

function step(name: string, ...args: string[]): ScenarioStep {
  return { name, args };
}

/** Fixed UUIDs and MACs: values libvirt would otherwise invent per run. */
function domainXml(name: string, uuid: string, emulator: string, devices: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>256</memory>
  <currentMemory unit='MiB'>256</currentMemory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>${emulator}</emulator>
${devices}    <controller type='usb' model='none'/>
    <controller type='scsi' model='virtio-scsi'/>
    <controller type='pci' model='pcie-root'/>
${"    <controller type='pci' model='pcie-root-port'/>\n".repeat(6)}    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='virtio'><stats period='0'/></memballoon>
  </devices>
</domain>
`;
}

function scenarioFiles(dir: string, emulator: string): Record<string, string> {
  const qcow2Disk = `    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${dir}/disk.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
`;
  return {
    "domain.xml": domainXml(DOMAIN, "6d7b3a52-0c1e-4f0a-9c35-7a1f00000001", emulator, qcow2Disk),
    "paused-domain.xml": domainXml(PAUSED_DOMAIN, "6d7b3a52-0c1e-4f0a-9c35-7a1f00000002", emulator, ""),
    "nic.xml": `<interface type='user'>
  <mac address='52:54:00:00:00:01'/>
  <model type='virtio'/>
</interface>
`,
    "scsi-disk.xml": `<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/>
  <source file='${dir}/scsi.raw'/>
  <target dev='sda' bus='scsi'/>
</disk>
`,
    "raw-disk.xml": `<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/>
  <source file='${dir}/extra.raw'/>
  <target dev='vdb' bus='virtio'/>
</disk>
`,
    // The settings that let the embedded driver run as root with no daemon around: stdio to a file instead of
    // virtlogd, no dedicated QEMU user, no SELinux/AppArmor labelling. remember_owner = 0: otherwise libvirt
    // keeps each image's owner in xattrs and logs a warning to stderr (outside LIBVIRT_LOG_OUTPUTS, from a
    // forked helper) when it restores it at destroy.
    "root/etc/qemu.conf": `stdio_handler = "file"
user = "root"
group = "root"
security_driver = "none"
remember_owner = 0
`,
  };
}

/** Quotes one argument for virsh's own command-line parser (single quotes keep everything literal). */
function quoteForVirsh(arg: string): string {
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  if (arg.includes("'")) throw new Error(`cannot quote ${arg} for virsh`);
  return `'${arg}'`;
}

/** The whole scenario as one virsh command string, each step preceded by an `echo` marker naming it. */
export function virshScript(steps: readonly ScenarioStep[], dir: string, emulator: string): string {
  const expand = (arg: string) => arg.replaceAll("$DIR", dir).replaceAll("$EMULATOR", emulator);
  return steps
    .map(
      (s) =>
        `echo ${quoteForVirsh(STEP_MARKER + s.name)}; ${s.args.map((a) => quoteForVirsh(expand(a))).join(" ")}`,
    )
    .join("; ");
}

/** Cuts virsh's combined output at the markers; text before the first marker is kept as step "(preamble)". */
export function splitSteps(output: string): { name: string; output: string }[] {
  const steps: { name: string; output: string }[] = [];
  const parts = output.split(STEP_MARKER);
  const preamble = parts.shift() ?? "";
  if (preamble !== "") steps.push({ name: "(preamble)", output: preamble });
  for (const part of parts) {
    const newline = part.indexOf("\n");
    steps.push({ name: part.slice(0, newline), output: part.slice(newline + 1) });
  }
  return steps;
}

async function run(argv: string[], cwd: string): Promise<void> {
  const proc = Bun.spawn(argv, { cwd, stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (${code}): ${err}`);
}

/**
 * Kills the emulators libvirt left running, by the pid files under the embed root: domains (run/qemu/NAME.pid)
 * when the scenario broke off before `destroy`, and capability probes (lib/qemu/qmp-XXXXXX/qmp.pid) when virsh was
 * killed while waiting for one.
 */
function killLeftovers(root: string): void {
  const pidFiles = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) return pidFiles(path);
          return entry.name.endsWith(".pid") ? [path] : [];
        })
      : [];
  for (const file of pidFiles(root)) {
    const pid = Number.parseInt(readFileSync(file, "utf8"), 10);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

function readEmulatorLogs(logDir: string): Record<string, string> {
  if (!existsSync(logDir)) return {};
  const logs: Record<string, string> = {};
  const domains = readdirSync(logDir).flatMap((file) => (file.endsWith(".log") ? [file.slice(0, -4)] : []));
  for (const domain of domains.sort()) logs[domain] = readFileSync(join(logDir, `${domain}.log`), "utf8");
  return logs;
}

/** Options of {@link runScenario}. */
export interface RunScenarioOptions {
  /** The steps to run. @default SCENARIO */
  steps?: readonly ScenarioStep[];
  /** The whole session is killed after this long. @default 240000 */
  timeoutMs?: number;
  /** Keep the run's dir (domain logs, libvirt's log) instead of removing it; for debugging. @default false */
  keepDir?: boolean;
}

/** Whether `virsh` is on the PATH. */
export function hasVirsh(): boolean {
  return Bun.which("virsh") !== null;
}

/**
 * Runs the scenario with `emulator` as every domain's `<emulator>`, in a fresh embed root, as one virsh session.
 * The monitor log is read into memory before the dir is removed.
 */
export async function runScenario(emulator: string, options: RunScenarioOptions = {}): Promise<ScenarioRun> {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-libvirt-"));
  const root = join(dir, "root");
  try {
    for (const [path, text] of Object.entries(scenarioFiles(dir, emulator))) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    await run(["qemu-img", "create", "-q", "-f", "qcow2", "disk.qcow2", "64M"], dir);
    await run(["qemu-img", "create", "-q", "-f", "raw", "extra.raw", "16M"], dir);
    await run(["qemu-img", "create", "-q", "-f", "raw", "scsi.raw", "8M"], dir);
    const monitorLog = join(dir, "libvirt-monitor.log");
    const outputPath = join(dir, "virsh.out");
    // stdout and stderr share one file descriptor, unbuffered (stdbuf), so an error lands inside its own step.
    const outFd = openSync(outputPath, "w");
    const started = performance.now();
    let exitCode: number;
    try {
      const proc = Bun.spawn(
        [
          "stdbuf",
          "-o0",
          "-e0",
          "virsh",
          "-c",
          `qemu:///embed?root=${root}`,
          virshScript(options.steps ?? SCENARIO, dir, emulator),
        ],
        {
          cwd: dir,
          stdin: "ignore",
          stdout: outFd,
          stderr: outFd,
          env: {
            ...process.env,
            LANG: "C",
            LC_ALL: "C",
            // Every QMP message and public API call at debug level; everything (taint warnings…) goes to the
            // file, none to stderr.
            LIBVIRT_LOG_FILTERS: MONITOR_LOG_FILTERS,
            LIBVIRT_LOG_OUTPUTS: `1:file:${monitorLog}`,
            LIBVIRT_DEFAULT_URI: "",
          },
        },
      );
      const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 240_000);
      exitCode = await proc.exited;
      clearTimeout(timer);
    } finally {
      closeSync(outFd);
    }
    const durationMs = performance.now() - started;
    const output = readFileSync(outputPath, "utf8");
    return {
      steps: splitSteps(output),
      dir,
      emulator,
      monitorLog: existsSync(monitorLog) ? readFileSync(monitorLog, "utf8") : "",
      emulatorLogs: readEmulatorLogs(join(root, "log", "qemu")),
      exitCode,
      durationMs,
    };
  } finally {
    killLeftovers(root);
    if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
  }
}
