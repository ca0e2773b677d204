/**
 * What a recorded profile holds (`profiles/qemu-<version>/<machine>.qprof`, packed by `pack.ts` so that reply
 * texts are read in parts).
 * Replies are kept as QEMU wrote them (its separators, its number formatting, integers beyond 2^53 intact),
 * minus the `id`, and each distinct reply text is stored once: `replies` maps a request key (see `key.ts`) to
 * an index into `pool`.
 */

/** The format tag; bumped when the layout changes incompatibly. */
export const PROFILE_FORMAT = "qmpkit-profile/5";

/** Stands for the QMP socket path of the recording session in reply texts (`query-chardev`, `info chardev`). */
export const SOCKET_PLACEHOLDER = "@QMP_SOCKET@";

/**
 * Names that exist nowhere, asked about while recording: their "not found" errors are QEMU's text with the name
 * in it, so the fake can give that error for any unknown name.
 */
export const UNKNOWN_NAMES = {
  type: "qmpkit-no-such-type",
  path: "/qmpkit-no-such-path",
  name: "qmpkit-no-such-name",
} as const;

/** What a profile file holds. */
export interface ProfileData {
  format: typeof PROFILE_FORMAT;
  qemu: {
    /** `major.minor.micro` from the greeting, e.g. `"7.2.22"`. */
    version: string;
    /** What `qemu-system-x86_64 -version` printed. */
    versionText: string;
    /** The greeting line as QEMU wrote it (without `\r\n`). */
    greeting: string;
  };
  /** The machine name this profile stands for (`none`, `q35`). */
  machine: string;
  /** QEMU's arguments when recording (before `-qmp`). */
  args: string[];
  /** Recorded with `-S`: state-dependent replies (`query-status`, …) show `prelaunch`. */
  startPaused: boolean;
  /** Distinct reply texts: `{"return": …}` or `{"error": {"class": …, "desc": …}}`. */
  pool: string[];
  /** Request key → index into `pool`. */
  replies: Record<string, number>;
  /** Request key → the end of QEMU's stderr, for requests that made QEMU exit instead of replying. */
  crashes: Record<string, string>;
  /** Keys whose reply differed between two fresh QEMUs (thread ids, clocks, hash order): not constant data. */
  volatile: string[];
}
