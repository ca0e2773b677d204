/**
 * SIGTERM/SIGINT/SIGHUP as QEMU reports them: "terminating on signal 15 from pid 1234 (virsh)". Node-style
 * `process.on("SIGTERM")` does not say who sent the signal, so an `SA_SIGINFO` handler records `si_pid`, and a
 * timer polls it. The handler is installed once the monitors listen, before the first client is served, so the
 * sender is known for any signal that arrives after a greeting.
 *
 * On x86-64 the handler is five instructions written into a page of our own (libc's mmap, mprotect and sigaction
 * through `bun:ffi`'s `dlopen`): ~1 ms. Compiling the same handler from C with Bun's embedded TinyCC (`cc`) took
 * 5–13 ms, and 11–40 ms on a loaded machine, all of it before the first greeting; it remains the way on other
 * architectures, or where a page cannot be made executable. If neither works, the fallback handler prints
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
  const native = writtenHandler() ?? compileHandler();
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

// The x86-64 SysV handler `void on_signal(int sig /* edi */, siginfo_t *info /* rsi */, void *context)`, with the
// address of two ints (signal, sender) patched in at DATA_OFFSET:
//   mov eax, [rsi + 16]     si_pid: after si_signo, si_errno, si_code and 4 bytes of padding
//   movabs rcx, <data>
//   mov [rcx + 4], eax      the sender first, so a poller that sees the signal also sees its sender
//   mov [rcx], edi
//   ret
const HANDLER_CODE = [
  0x8b, 0x46, 0x10, 0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0x89, 0x41, 0x04, 0x89, 0x39, 0xc3,
];
const DATA_OFFSET = 5;
const PAGE = 4096;
// mmap/mprotect/sigaction constants (Linux x86-64).
const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
const MAP_PRIVATE_ANONYMOUS = 0x22;
const SA_SIGINFO = 0x4;
const SA_RESTART = 0x10000000;

/** The handler above in an executable page of ours (x86-64 Linux with glibc only); undefined elsewhere. */
function writtenHandler(): NativeHandler | undefined {
  if (process.arch !== "x64" || process.platform !== "linux") return undefined;
  try {
    const { dlopen, read, toArrayBuffer } = require("bun:ffi") as typeof import("bun:ffi");
    const libc = dlopen("libc.so.6", {
      mmap: { args: ["ptr", "usize", "int", "int", "int", "i64"], returns: "ptr" },
      mprotect: { args: ["ptr", "usize", "int"], returns: "int" },
      sigaction: { args: ["int", "ptr", "ptr"], returns: "int" },
    });
    // Two pages: the code (made read + execute once written) and the two ints it writes (read + write).
    const base = libc.symbols.mmap(null, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0);
    // MAP_FAILED is (void *)-1; user-space addresses on x86-64 stay below 2^47.
    if (base === null || Number(base) >= 2 ** 47) return undefined;
    const data = Number(base) + PAGE;
    const code = new Uint8Array(HANDLER_CODE);
    new DataView(code.buffer).setBigUint64(DATA_OFFSET, BigInt(data), true);
    const page = new Uint8Array(toArrayBuffer(base, 0, PAGE));
    page.set(code);
    if (libc.symbols.mprotect(base, PAGE, PROT_READ | PROT_EXEC) !== 0) return undefined;
    // struct sigaction (glibc, x86-64): handler at 0, sa_mask (128 bytes) at 8, sa_flags at 136, restorer at 144.
    // SA_RESTART keeps Bun's own system calls from seeing EINTR.
    const action = new Uint8Array(152);
    const view = new DataView(action.buffer);
    view.setBigUint64(0, BigInt(Number(base)), true);
    view.setInt32(136, SA_SIGINFO | SA_RESTART, true);
    return {
      install: (signal) => libc.symbols.sigaction(signal, action, null),
      signal: () => read.i32(data, 0),
      sender: () => read.i32(data, 4),
    };
  } catch {
    return undefined;
  }
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
