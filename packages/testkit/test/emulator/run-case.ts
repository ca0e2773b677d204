/**
 * Runs one command line as QEMU would be run (a child process in `dir`), and, when its `probe.sock` monitor
 * answers `qmp_capabilities`, stops it with SIGTERM. The same procedure as `scripts/record-emulator.ts`, so fake
 * and real outcomes compare. Bounded: a process that neither exits nor starts within 10 s is killed.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

export interface CaseOutcome {
  stdout: string;
  stderr: string;
  status: number;
  started: boolean;
}

export async function runCase(
  command: readonly string[],
  args: readonly string[],
  dir: string,
  placeholder: string,
  env: Readonly<Record<string, string>> = {},
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
  const deadline = Date.now() + 10_000;
  while (proc.exitCode === null && proc.signalCode === null && Date.now() < deadline) {
    if (existsSync(socket) && (await answers(socket))) {
      started = true;
      proc.kill("SIGTERM");
      break;
    }
    await Bun.sleep(10);
  }
  if (proc.exitCode === null && !started) proc.kill("SIGKILL");
  const status = await proc.exited;
  const normalise = (text: string) =>
    text
      .replaceAll(dir, placeholder)
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
