/**
 * `strerror()`'s text for the errno codes the fake meets opening, binding and creating files, as QEMU prints it
 * after its own message ("Could not open 'x': No such file or directory").
 */
const TEXTS: Readonly<Record<string, string>> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EADDRINUSE: "Address already in use",
  ENOTDIR: "Not a directory",
  EEXIST: "File exists",
  EROFS: "Read-only file system",
};

/** The text of a Node-style error's errno `code`, or undefined for a code (or an error) not listed. */
export function strerror(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? TEXTS[code] : undefined;
}

/** {@link strerror}, or the error's own message when its code is not listed. */
export function errnoText(error: unknown): string {
  return strerror(error) ?? (error instanceof Error ? error.message : String(error));
}
