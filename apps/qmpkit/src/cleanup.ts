/**
 * Clean-up that must also happen when qmpkit is told to stop (SIGTERM, or SIGHUP from a closed terminal):
 * the embedded fake's temp dir, the QEMU that `qmpkit qemu` started. By default those signals end the
 * process without running any JavaScript; once something registers here they end it through
 * `process.exit()`, which runs the "exit" hooks (here, and the testkit's launcher's own).
 */

const SIGNALS = { SIGHUP: 1, SIGTERM: 15 } as const;
let installed = false;

/**
 * Runs `task` (synchronous: the process is going away) when the process exits, also by SIGTERM or SIGHUP.
 * @returns a function that unregisters it, for when the resource was released the ordinary way.
 */
export function cleanUpOnExit(task: () => void): () => void {
  if (!installed) {
    installed = true;
    for (const [name, number] of Object.entries(SIGNALS)) {
      process.once(name as keyof typeof SIGNALS, () => process.exit(128 + number));
    }
  }
  const run = () => {
    try {
      task();
    } catch {
      // Best effort: the process is exiting either way.
    }
  };
  process.once("exit", run);
  return () => process.off("exit", run);
}
