/**
 * Runs one command line as QEMU would be run (a child process in `dir`), and, when its `probe.sock` monitor
 * answers `qmp_capabilities`, stops it with SIGTERM. The one procedure behind the recordings of real QEMU
 * (`scripts/record-emulator.ts`, `scripts/record-drives.ts`) and the replays against the fake, so their outcomes
 * compare. Bounded: a process that neither exits nor starts within 10 s is killed.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

export interface CaseOutcome {
  stdout: string;
  stderr: string;
  status: number;
  started: boolean;
}

export interface RunCaseOptions {
  /**
   * Called once the monitor at `socket` has answered, before the SIGTERM: a second client may connect (the
   * probe's connection is closed by then). What it throws stops the process and rejects the run.
   */
  whileStarted?: (socket: string) => Promise<void>;
}

export async function runCase(
  command: readonly string[],
  args: readonly string[],
  dir: string,
  placeholder: string,
  env: Readonly<Record<string, string>> = {},
  options: RunCaseOptions = {},
): Promise<CaseOutcome> {
  const socket = join(dir, "probe.sock");
  const argv = args.map((arg) => arg.replaceAll(placeholder, dir));
  const proc = Bun.spawn([...command, ...argv], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: dir,
    env: { ...process.env, DISPLAY: "", WAYLAND_DISPLAY: "", ...env },
  });
  const stdout = new Response(proc.stdout).text();
  const stderr = new Response(proc.stderr).text();
  let started = false;
  let failure: unknown;
  const deadline = Date.now() + 10_000;
  while (proc.exitCode === null && proc.signalCode === null && Date.now() < deadline) {
    // The socket exists, and even the greeting comes, before QEMU installs its SIGTERM handler; a command's reply
    // comes from the main loop, after it.
    if (existsSync(socket) && (await answers(socket))) {
      started = true;
      try {
        await options.whileStarted?.(socket);
      } catch (error) {
        failure = error;
      }
      proc.kill("SIGTERM");
      break;
    }
    await Bun.sleep(10);
  }
  if (proc.exitCode === null && !started) proc.kill("SIGKILL");
  const status = await proc.exited;
  if (failure !== undefined) throw failure;
  const normalise = (text: string) =>
    text
      .replaceAll(dir, placeholder)
      // The signal line names the sender (this runner): keep its shape, not its pid.
      .replace(/from pid \d+ \([^)]*\)/g, "from pid <pid> (<name>)")
      .replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z /gm, "<timestamp> ");
  return { stdout: normalise(await stdout), stderr: normalise(await stderr), status, started };
}

/** Whether the monitor at `path` greets and answers `qmp_capabilities` within 5 s. */
async function answers(path: string): Promise<boolean> {
  const { promise, resolve } = Promise.withResolvers<boolean>();
  const timer = setTimeout(() => resolve(false), 5000);
  let received = "";
  let sent = false;
  try {
    const socket = await Bun.connect({
      unix: path,
      socket: {
        data(s, chunk) {
          received += chunk.toString();
          if (!sent && received.includes('"QMP"')) {
            sent = true;
            s.write('{"execute":"qmp_capabilities"}\n');
          }
          if (received.includes('"return"')) resolve(true);
        },
        close: () => resolve(false),
        error: () => resolve(false),
      },
    });
    const ok = await promise;
    socket.end();
    return ok;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
