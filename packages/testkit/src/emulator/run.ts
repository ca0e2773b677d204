/**
 * The emulator's process: what `qmpkit fake-qemu ARGS` (or the binary called `qemu-system-x86_64`) does, in
 * QEMU's order — read and check the command line, daemonize, write the pidfile, open the monitors, create the
 * command line's backends and devices in the VM model, then run until `quit` or a termination signal, and clean
 * up (pidfile, sockets) on the way out.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { SchemaEntry } from "../dispatch/schema-args.ts";
import { createFakeQemu, type FakeQemu } from "../fake-server.ts";
import type { QemuRelease } from "../qemu-10.ts";
import { errnoText } from "../strerror.ts";
import { loadRecordedCli } from "./catalogue.ts";
import { listenIdle, openPty } from "./chardevs.ts";
import { type EmulatorConfig, EmulatorExit, parseCommandLine } from "./command-line.ts";
import { type DaemonHooks, daemonChild, daemonize } from "./daemon.ts";
import { type MonitorEndpoint, monitorEndpoints, otherSocketEndpoints } from "./monitors.ts";
import { loadScript, type ScriptControl } from "./script.ts";
import { terminationMessage, watchTermination } from "./signals.ts";
import { createAtStart } from "./startup.ts";
import { validateConfig } from "./validate.ts";

/** Where the emulator writes, and what it knows of its environment. */
export interface EmulatorIO {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Options of {@link runEmulator}. */
export interface RunEmulatorOptions {
  /** The name QEMU prints before its messages: the basename of argv[0]. @default "qemu-system-x86_64" */
  prog?: string;
  /** The command that runs this emulator again with the same arguments (for `-daemonize`). */
  relaunch?: readonly string[];
  /**
   * A file of `QMPKIT_FAKE_QEMU_*=value` lines read when those variables are not in the environment: programs
   * such as libvirt start QEMU with a scrubbed environment, so a test puts them beside the emulator's link
   * (`qemu-system-x86_64.env`, see the testkit README). A missing file is no error.
   */
  envFile?: string;
  /** Called once every monitor listens (tests and the bench use it). */
  onListening?: (fake: FakeQemu) => void;
  /**
   * The QEMU generation to answer like (its `-version`, QMP greeting, schema and profile).
   * @default `$QMPKIT_FAKE_QEMU_VERSION` (what a program that launches the emulator can set), else "7.2"
   */
  qemuVersion?: QemuRelease;
}

/** The variable that picks the generation when another program launches the emulator. */
export const FAKE_QEMU_VERSION_ENV = "QMPKIT_FAKE_QEMU_VERSION";

function pickQemuVersion(io: EmulatorIO, options: RunEmulatorOptions, prog: string): QemuRelease {
  const wanted = options.qemuVersion ?? io.env[FAKE_QEMU_VERSION_ENV] ?? "7.2";
  if (wanted !== "7.2" && wanted !== "10.0") {
    throw new EmulatorExit(
      1,
      `${prog}: ${FAKE_QEMU_VERSION_ENV}=${wanted}: the fake answers like 7.2 or 10.0\n`,
    );
  }
  return wanted;
}

/**
 * Runs QEMU's command line on the fake and resolves with the process's exit status once it should exit.
 * @example process.exitCode = await runEmulator(["-machine", "q35", "-qmp", "unix:/tmp/q.sock,server=on,wait=off"], io);
 */
export async function runEmulator(
  argv: readonly string[],
  io: EmulatorIO,
  options: RunEmulatorOptions = {},
): Promise<number> {
  // The env file's settings become the environment, so a -daemonize child inherits them too.
  io = withEnv(io, withEnvFile(io.env, options.envFile));
  const daemon = daemonChild(io.env);
  const prog =
    (daemon === undefined ? undefined : io.env.QMPKIT_FAKE_QEMU_PROG) ?? options.prog ?? "qemu-system-x86_64";
  try {
    const qemuVersion = pickQemuVersion(io, options, prog);
    const recorded = await loadRecordedCli(qemuVersion);
    const config = parseCommandLine(argv, prog, recorded);
    const machine = validateConfig(config, recorded, prog);
    if (daemon === undefined) {
      for (const warning of config.warnings) io.stderr.write(warning);
      for (const notice of config.notices)
        io.stderr.write(`${notice.stamped ? stamp(config) : ""}${notice.text}`);
    }
    if (
      (config.display === "default" || config.display === "gtk") &&
      !io.env.DISPLAY &&
      !io.env.WAYLAND_DISPLAY
    ) {
      // What QEMU 7.2 built with GTK does on a machine without a display.
      throw new EmulatorExit(1, "gtk initialization failed\n");
    }
    if (config.daemonize && daemon === undefined) {
      // The detached copy must answer like the same generation, however this one was told.
      const env = { ...io.env, [FAKE_QEMU_VERSION_ENV]: qemuVersion };
      return await daemonize(options.relaunch ?? [], argv, withEnv(io, env), prog);
    }
    const script = await loadScript(io.env, prog);
    return await serve(config, machine.family, () => recorded.schema, io, prog, daemon, script, {
      ...options,
      qemuVersion,
    });
  } catch (error) {
    if (error instanceof EmulatorExit) {
      io.stdout.write(error.stdout);
      io.stderr.write(error.stderr);
      daemon?.failed(error.status);
      return error.status;
    }
    throw error;
  }
}

async function serve(
  config: EmulatorConfig,
  family: "none" | "q35",
  schema: () => readonly SchemaEntry[],
  io: EmulatorIO,
  prog: string,
  daemon: DaemonHooks | undefined,
  script: ScriptControl | undefined,
  options: RunEmulatorOptions,
): Promise<number> {
  const cleanups: (() => void)[] = [];
  const fakes: FakeQemu[] = [];
  const ptys = new Map<string, string>();
  try {
    if (config.pidfile !== undefined) {
      const pidfile = config.pidfile;
      try {
        writeFileSync(pidfile, `${process.pid}\n`, { mode: 0o600 });
      } catch (error) {
        throw new EmulatorExit(
          1,
          `${prog}: cannot create PID file: Could not create '${pidfile}': ${errnoText(error)}\n`,
        );
      }
      cleanups.push(() => rmSync(pidfile, { force: true }));
    }
    // QEMU creates chardevs in command-line order; a pty announces itself on stderr as it is created.
    const monitors = monitorEndpoints(config, prog);
    const idle = otherSocketEndpoints(config);
    for (const chardev of config.chardevs) {
      if (chardev.backend === "pty") {
        const pty = openPty();
        cleanups.push(pty.close);
        ptys.set(chardev.id, pty.path);
        io.stderr.write(`char device redirected to ${pty.path} (label ${chardev.id})\n`);
        continue;
      }
      const endpoint = idle.find((e) => e.location === chardev.location);
      if (endpoint === undefined) continue;
      try {
        const listener = listenIdle(endpoint.listen);
        cleanups.push(() => listener.stop(true));
      } catch (error) {
        throw new EmulatorExit(
          1,
          `${prog}: ${endpoint.location}: Failed to bind socket to ${endpoint.describe}: ${errnoText(error)}\n`,
        );
      }
    }
    const [firstMonitor, ...moreMonitors] = monitors;
    let fake: FakeQemu | undefined;
    if (firstMonitor !== undefined) {
      fake = await openVm(
        firstMonitor,
        config,
        family,
        prog,
        script,
        options.qemuVersion ?? "7.2",
        io.stderr,
      );
      fakes.push(fake);
      await createAtStart(fake, config, ptys, prog, schema, io.stderr);
      script?.started(fake);
      for (const endpoint of moreMonitors) {
        try {
          fake.addMonitor(endpoint.listen);
        } catch (error) {
          throw bindError(prog, endpoint, error);
        }
      }
      options.onListening?.(fake);
    }
    daemon?.ready();
    const exit = Promise.withResolvers<number>();
    const stopWatching = watchTermination((signal) => {
      io.stderr.write(`${stamp(config)}${terminationMessage(prog, signal)}\n`);
      // QEMU tells its monitors why it goes away before closing them.
      fake?.emit("SHUTDOWN", { guest: false, reason: "host-signal" });
      exit.resolve(0);
    });
    cleanups.push(stopWatching);
    // `quit`: QEMU exits 0 without a word.
    fake?.exited.then(() => exit.resolve(0));
    return await exit.promise;
  } finally {
    await Promise.all(fakes.map((fake) => fake.close()));
    for (const cleanup of cleanups.reverse()) cleanup();
  }
}

/** The VM, listening on its first monitor. */
async function openVm(
  endpoint: MonitorEndpoint,
  config: EmulatorConfig,
  family: "none" | "q35",
  prog: string,
  script: ScriptControl | undefined,
  qemuVersion: QemuRelease,
  stderr: EmulatorIO["stderr"],
): Promise<FakeQemu> {
  try {
    const fake = await createFakeQemu({
      ...endpoint.listen,
      machine: family,
      qemuVersion,
      // -incoming wins over -S (QEMU reports inmigrate); -S then keeps the guest paused once the migration is in.
      ...(config.startPaused ? { status: "prelaunch" } : {}),
      ...(config.incoming === undefined ? {} : { incoming: config.incoming }),
      accelerator: config.accelerator,
      onWarning: (message) => stderr.write(`${stamp(config)}warning: ${message}\n`),
      noShutdown: config.noShutdown,
      noReboot: config.noReboot,
      ...(config.name === undefined ? {} : { name: config.name }),
      ...(config.uuid === undefined ? {} : { uuid: config.uuid }),
      faults: script?.faults ?? [],
      ...(script?.onReceived ? { onReceived: script.onReceived } : {}),
    });
    script?.install(fake);
    return fake;
  } catch (error) {
    throw bindError(prog, endpoint, (error as { cause?: unknown }).cause ?? error);
  }
}

function bindError(prog: string, endpoint: MonitorEndpoint, error: unknown): EmulatorExit {
  return new EmulatorExit(
    1,
    `${prog}: ${endpoint.location}: Failed to bind socket to ${endpoint.describe}: ${errnoText(error)}\n`,
  );
}

/** `env` completed with the `QMPKIT_FAKE_QEMU_*` lines of `file`; the environment wins. */
/**
 * `io` with another environment. Not `{ ...io, env }`: spreading reads every getter, and the CLI's `stdin` getter
 * loads Node's stream modules (~15 ms of start-up) for an emulator that never reads its stdin.
 */
function withEnv(io: EmulatorIO, env: EmulatorIO["env"]): EmulatorIO {
  return Object.defineProperties(
    {},
    {
      ...Object.getOwnPropertyDescriptors(io),
      env: { value: env, enumerable: true },
    },
  ) as EmulatorIO;
}

function withEnvFile(
  env: Readonly<Record<string, string | undefined>>,
  file: string | undefined,
): Readonly<Record<string, string | undefined>> {
  if (file === undefined || !existsSync(file)) return env;
  const merged: Record<string, string | undefined> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const match = /^(QMPKIT_FAKE_QEMU_[A-Z_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined) merged[match[1]] = match[2];
  }
  return { ...merged, ...env };
}

/** `-msg timestamp=on`: QEMU's UTC time with microseconds, then a space. */
function stamp(config: EmulatorConfig): string {
  if (!config.msgTimestamp) return "";
  const now = performance.timeOrigin + performance.now();
  const micros = Math.floor((now % 1000) * 1000)
    .toString()
    .padStart(6, "0");
  return `${new Date(now).toISOString().slice(0, 19)}.${micros}Z `;
}
