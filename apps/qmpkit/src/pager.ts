/**
 * Long text through a pager on a terminal, as git does: `$PAGER` (run by `sh -c`), else `less -R` with
 * `LESS=FRX` when LESS is unset (one screenful prints and exits, colours pass, the screen is not cleared).
 * Not on a terminal, or with `PAGER=` or `PAGER=cat`, the text is written as it is.
 */

import type { CliIO } from "./cli.ts";

export async function writePaged(io: CliIO, text: string): Promise<void> {
  const pager = io.env.PAGER ?? "less -R";
  if (io.stdout.isTTY !== true || pager.trim() === "" || pager.trim() === "cat") {
    io.stdout.write(text);
    return;
  }
  let child: ReturnType<typeof Bun.spawn<"pipe", "inherit", "inherit">>;
  try {
    child = Bun.spawn(["sh", "-c", pager], {
      stdin: "pipe",
      stdout: "inherit",
      stderr: "inherit",
      env: { ...io.env, LESS: io.env.LESS ?? "FRX" },
    });
  } catch {
    io.stdout.write(text);
    return;
  }
  try {
    child.stdin.write(text);
    await child.stdin.end();
  } catch {
    // The pager quit before reading everything (q in less): nothing left to show.
  }
  const status = await child.exited;
  // sh's 127: the pager is not installed; the text still has to reach the reader.
  if (status === 127) io.stdout.write(text);
}
