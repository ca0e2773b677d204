/**
 * SIGTERM/SIGINT/SIGHUP as QEMU reports them: "terminating on signal 15 from pid 1234 (virsh)". Node-style
 * `process.on("SIGTERM")` does not say who sent the signal, so a five-line C handler compiled at run time by
 * Bun's embedded TinyCC (`bun:ffi`'s `cc`) records `si_pid` from an `SA_SIGINFO` handler, and a timer polls it.
 * The C declares what it uses itself (x86-64 Linux layouts), so it needs no system headers on the machine.
 * Measured (Bun 1.4.4): 6–13 ms to compile, in `bun` and in a compiled binary alike. It is installed once the
 * monitors listen, before the first client is served. If it cannot be compiled, the fallback handler prints
 * QEMU's line for an unknown sender ("terminating on signal 15").
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A termination request: the signal's number, and the sender's pid when known. */
export interface TerminationSignal {
  readonly signal: number;
  readonly pid: number | undefined;
}

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

// struct sigaction (glibc, x86-64): handler at 0, sa_mask (128 bytes) at 8, sa_flags at 136, restorer at 144.
// siginfo_t: si_pid is the fifth int. SA_SIGINFO | SA_RESTART keeps Bun's own system calls from seeing EINTR.
const HANDLER_SOURCE = `
extern int sigaction(int, const void *, void *);
static volatile int last_signal = 0;
static volatile int last_sender = 0;
static void on_signal(int sig, int *info, void *context) { last_sender = info[4]; last_signal = sig; }
int qmpkit_install(int sig) {
  unsigned char action[152];
  for (int i = 0; i < 152; i++) action[i] = 0;
  *(void **)action = (void *)on_signal;
  *(int *)(action + 136) = 0x4 | 0x10000000;
  return sigaction(sig, action, 0);
}
int qmpkit_signal(void) { return last_signal; }
int qmpkit_sender(void) { return last_sender; }
`;

/**
 * Calls `onSignal` once, on the first SIGHUP, SIGINT or SIGTERM. Returns a function that stops watching.
 * Falls back to `process.on` (signals without their sender) when the C handler cannot be built.
 */
export function watchTermination(onSignal: (signal: TerminationSignal) => void): () => void {
  let fired = false;
  const fire = (signal: TerminationSignal) => {
    if (fired) return;
    fired = true;
    stop();
    onSignal(signal);
  };
  const fallback = Object.entries(SIGNALS).map(([name, signal]) => {
    const listener = () => fire({ signal, pid: undefined });
    process.on(name as NodeJS.Signals, listener);
    return () => process.off(name as NodeJS.Signals, listener);
  });
  let timer: ReturnType<typeof setInterval> | undefined;
  const stop = () => {
    for (const off of fallback) off();
    if (timer !== undefined) clearInterval(timer);
  };
  // Synchronously, so the sender is known for any signal that arrives once a client got its greeting.
  const native = compileHandler();
  if (native !== undefined) {
    for (const signal of Object.values(SIGNALS)) native.install(signal);
    timer = setInterval(() => {
      const signal = native.signal();
      if (signal !== 0) fire({ signal, pid: native.sender() || undefined });
    }, 10);
  }
  return stop;
}

interface NativeHandler {
  install(signal: number): number;
  signal(): number;
  sender(): number;
}

function compileHandler(): NativeHandler | undefined {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-signals-"));
  try {
    const source = join(dir, "signals.c");
    writeFileSync(source, HANDLER_SOURCE);
    const { cc } = require("bun:ffi") as typeof import("bun:ffi");
    const lib = cc({
      source,
      library: ["c"],
      symbols: {
        qmpkit_install: { args: ["int"], returns: "int" },
        qmpkit_signal: { args: [], returns: "int" },
        qmpkit_sender: { args: [], returns: "int" },
      },
    });
    return {
      install: (signal) => lib.symbols.qmpkit_install(signal),
      signal: () => lib.symbols.qmpkit_signal(),
      sender: () => lib.symbols.qmpkit_sender(),
    };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** QEMU's text: the sender's pid and the first word of its command line, when known. */
export function terminationMessage(prog: string, signal: TerminationSignal): string {
  if (signal.pid === undefined) return `${prog}: terminating on signal ${signal.signal}`;
  let name = "";
  try {
    name = readFileSync(`/proc/${signal.pid}/cmdline`, "utf8").split("\0")[0] ?? "";
  } catch {
    // The sender is gone: QEMU prints an empty name then.
  }
  return `${prog}: terminating on signal ${signal.signal} from pid ${signal.pid} (${name})`;
}
