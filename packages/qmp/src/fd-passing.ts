/**
 * Passing a file descriptor over a unix socket (SCM_RIGHTS), for QMP's `getfd` and `add-fd`.
 *
 * Bun has no API for ancillary data, so this calls libc's `sendmsg(2)` through `bun:ffi` on the socket's own
 * descriptor. The descriptor rides on one space byte, which QEMU's JSON parser skips as whitespace (the same
 * trick as qemu.qmp's `send_fd_scm`). Linux on 64-bit only: the `msghdr`/`cmsghdr` layouts below are Linux's.
 *
 * @module
 */

import { QMPError } from "@qmpkit/protocol-core";

const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const EINTR = 4;
const EAGAIN = 11;
/** `sendmsg` flags: MSG_NOSIGNAL, so a closed peer is an EPIPE error rather than a SIGPIPE. */
const MSG_NOSIGNAL = 0x4000;
/** How long EAGAIN (the kernel's socket buffer is full) is retried before giving up. */
const EAGAIN_BUDGET_MS = 5_000;

/** Raised when a descriptor cannot be passed. */
export class FdPassingError extends QMPError {
  override name = "FdPassingError";
  override code = "QMP_ERR_SEND_FD";
}

interface Libc {
  sendmsg(socket: number, message: number, flags: number): number | bigint;
  errno(): number;
}

let libc: Libc | undefined;

async function loadLibc(): Promise<Libc> {
  if (libc !== undefined) return libc;
  if (process.platform !== "linux" || (process.arch !== "x64" && process.arch !== "arm64")) {
    throw new FdPassingError(
      `sendFd() is implemented for Linux on 64-bit CPUs only (this is ${process.platform}/${process.arch})`,
    );
  }
  let ffi: typeof import("bun:ffi");
  try {
    ffi = await import("bun:ffi");
  } catch (error) {
    throw new FdPassingError("sendFd() needs bun:ffi, which this runtime does not provide", { cause: error });
  }
  const { dlopen, FFIType, read } = ffi;
  let lib: ReturnType<typeof openLibc>;
  function openLibc() {
    return dlopen("libc.so.6", {
      sendmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64 },
      __errno_location: { args: [], returns: FFIType.ptr },
    });
  }
  try {
    lib = openLibc();
  } catch (error) {
    throw new FdPassingError("sendFd() could not load libc.so.6 through bun:ffi", { cause: error });
  }
  const symbols = lib.symbols;
  libc = {
    sendmsg: (socket, message, flags) => symbols.sendmsg(socket, message as never, flags),
    errno: () => {
      const location = symbols.__errno_location();
      return location === null ? 0 : read.i32(location, 0);
    },
  };
  return libc;
}

/**
 * Sends `fd` over the unix socket `socketFd` with `payload` (default: one space byte, which QEMU's parser skips;
 * libvirt sends its descriptors on the command that takes them). Retries while the socket buffer is full,
 * calling `drained` (the client's write-queue flush) between tries.
 */
export async function sendFdOverSocket(
  socketFd: number,
  fd: number,
  drained: () => Promise<void>,
  payload: Uint8Array = Uint8Array.of(0x20),
): Promise<void> {
  if (!Number.isSafeInteger(fd) || fd < 0) throw new FdPassingError(`Not a file descriptor: ${fd}`);
  const { sendmsg, errno } = await loadLibc();
  const { ptr } = await import("bun:ffi");

  // struct iovec { void *iov_base; size_t iov_len; }
  const iov = new DataView(new ArrayBuffer(16));
  iov.setBigUint64(0, BigInt(ptr(payload)), true);
  iov.setBigUint64(8, BigInt(payload.length), true);
  // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } + one int, padded: CMSG_SPACE(4) = 24.
  const control = new DataView(new ArrayBuffer(24));
  control.setBigUint64(0, 20n, true); // CMSG_LEN(sizeof(int))
  control.setInt32(8, SOL_SOCKET, true);
  control.setInt32(12, SCM_RIGHTS, true);
  control.setInt32(16, fd, true);
  // struct msghdr { name; namelen(+pad); iov; iovlen; control; controllen; flags(+pad) } = 56 bytes.
  const header = new DataView(new ArrayBuffer(56));
  header.setBigUint64(16, BigInt(ptr(iov)), true);
  header.setBigUint64(24, 1n, true);
  header.setBigUint64(32, BigInt(ptr(control)), true);
  header.setBigUint64(40, 24n, true);

  const started = performance.now();
  while (true) {
    const sent = Number(sendmsg(socketFd, ptr(header), MSG_NOSIGNAL));
    // The kernel read the buffers behind these pointers; keep them reachable until the call returned.
    keepAlive(payload, iov, control);
    if (sent === payload.length) return;
    // The descriptor went with the part sent; the rest would have to follow as plain bytes, which no caller
    // needs (one space, or one small command on an idle socket).
    if (sent > 0) throw new FdPassingError(`sendmsg(SCM_RIGHTS) sent ${sent} of ${payload.length} bytes`);
    const code = errno();
    if (code === EINTR) continue;
    if (code === EAGAIN && performance.now() - started < EAGAIN_BUDGET_MS) {
      await drained();
      await Bun.sleep(1);
      continue;
    }
    throw new FdPassingError(
      `sendmsg(SCM_RIGHTS) failed with errno ${code}${sent === 0 ? " (nothing sent)" : ""}`,
    );
  }
}

const retained: unknown[] = [];
function keepAlive(...values: unknown[]): void {
  retained.length = 0;
  retained.push(...values);
  retained.length = 0;
}
