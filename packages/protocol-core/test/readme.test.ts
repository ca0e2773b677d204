import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { within } from "./helpers.ts";

test("the README's example runs as written and prints the shouted reply", async () => {
  const readme = await Bun.file(join(import.meta.dir, "..", "README.md")).text();
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block).toBeDefined();
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-readme-"));
  try {
    const entry = join(import.meta.dir, "..", "src", "index.ts");
    const script = (block as string).replace('"@qmpkit/protocol-core"', JSON.stringify(entry));
    writeFileSync(join(dir, "example.ts"), script);
    await using proc = Bun.spawn([process.execPath, join(dir, "example.ts")], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await within(proc.exited, 10000, "example")).toBe(0);
    expect(await new Response(proc.stderr).text()).toBe("");
    expect(await new Response(proc.stdout).text()).toBe("reply: HELLO\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
