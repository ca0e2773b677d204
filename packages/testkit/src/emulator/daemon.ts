/**
 * `-daemonize` as QEMU does it: the command the user ran returns (status 0) only once the VM is up and its
 * monitors listen, or returns 1 if start-up failed, with the error on its stderr. QEMU forks; Bun cannot, so the
 * emulator runs itself again, detached (a new session, as QEMU's `setsid()`), with `QMPKIT_FAKE_QEMU_DAEMON=1`,
 * and waits for the child's word over Bun's IPC channel. The child then points its standard streams at
 * `/dev/null`, as QEMU does once initialised.
 */
/** What the daemonizing parent needs of the emulator's I/O. */
interface DaemonIO {
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

const DAEMON_ENV = "QMPKIT_FAKE_QEMU_DAEMON";

/** What a daemonized child tells the process that started it. */
export interface DaemonHooks {
  ready(): void;
  failed(status: number): void;
}

/** The hooks when this process is the daemonized child, else undefined. */
export function daemonChild(env: Readonly<Record<string, string | undefined>>): DaemonHooks | undefined {
  if (env[DAEMON_ENV] !== "1" || typeof process.send !== "function") return undefined;
  const send = (message: unknown) => {
    try {
      process.send?.(message);
    } catch {
      // The parent is gone: nobody to tell.
    }
  };
  return {
    ready() {
      send({ ready: true });
      detachStdio();
      process.disconnect?.();
    },
    failed(status) {
      send({ status });
    },
  };
}

/**
 * Starts the daemon child and resolves with this process's exit status: 0 once the child is ready, else the
 * child's status. `relaunch` is the command that runs the emulator (e.g. `[execPath, "fake-qemu"]`).
 */
export async function daemonize(
  relaunch: readonly string[],
  argv: readonly string[],
  io: DaemonIO,
  prog: string,
): Promise<number> {
  if (relaunch.length === 0) {
    io.stderr.write(`${prog}: -daemonize needs a relaunch command (run through qmpkit fake-qemu)\n`);
    return 1;
  }
  const outcome = Promise.withResolvers<number>();
  const child = Bun.spawn([...relaunch, ...argv], {
    env: { ...io.env, [DAEMON_ENV]: "1", QMPKIT_FAKE_QEMU_PROG: prog },
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
    ipc(message: { ready?: boolean; status?: number }) {
      if (message.ready) outcome.resolve(0);
      else if (typeof message.status === "number") outcome.resolve(message.status);
    },
  });
  child.exited.then((status) => outcome.resolve(status === 0 ? 1 : status));
  const status = await outcome.promise;
  child.unref();
  return status;
}

/**
 * Standard streams to /dev/null (QEMU's `os_setup_post` for a daemon), through libc's `dup2`. Bun keeps
 * duplicates of fds 1 and 2 for its own writers (seen as fds 6 and 7): those are pointed at /dev/null too, or
 * the caller reading the daemon's output to EOF (libvirt's probe does) would wait forever. They are replaced,
 * never closed, so no later socket can reuse their numbers under Bun's writers.
 */
function detachStdio(): void {
  try {
    const { dlopen } = require("bun:ffi") as typeof import("bun:ffi");
    const { openSync, readdirSync, readlinkSync } = require("node:fs") as typeof import("node:fs");
    const libc = dlopen("libc.so.6", { dup2: { args: ["int", "int"], returns: "int" } });
    const target = (fd: number) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return undefined;
      }
    };
    const caller = new Set(
      [target(0), target(1), target(2)].filter((link) => link !== undefined && link !== "/dev/null"),
    );
    const devNull = openSync("/dev/null", "r+");
    const fds = readdirSync("/proc/self/fd").map(Number);
    for (const fd of fds) {
      if (fd > 2 && fd !== devNull && caller.has(target(fd))) libc.symbols.dup2(devNull, fd);
    }
    for (const fd of [0, 1, 2]) libc.symbols.dup2(devNull, fd);
  } catch {
    // Keep the streams: output may show where QEMU's would not, which is harmless.
  }
}
