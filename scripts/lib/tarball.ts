/**
 * Small process and tarball helpers for the packing scripts. Bun has no tar API, so `tar` (present on every
 * machine CI runs on) reads the gzipped npm tarballs.
 */

/** Runs `cmd`, returns its stdout; throws with both streams when it exits non-zero. */
export async function run(
  cmd: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) {
    throw new Error(
      `\`${cmd.join(" ")}\` exited ${code}${options.cwd ? ` in ${options.cwd}` : ""}:\n${stdout}${stderr}`,
    );
  }
  return stdout;
}

/** The file entries of a .tgz (directories left out), e.g. `package/src/index.ts`. */
export async function listTarball(tarball: string): Promise<string[]> {
  const out = await run(["tar", "-tzf", tarball]);
  return out
    .split("\n")
    .filter((line) => line !== "" && !line.endsWith("/"))
    .sort();
}

/** One JSON file of a .tgz, parsed. */
export async function readTarballJson(tarball: string, entry: string): Promise<unknown> {
  return JSON.parse(await run(["tar", "-xzOf", tarball, entry]));
}
