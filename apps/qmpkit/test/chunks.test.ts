/**
 * How the compiled CLI's code is split: `qmpkit exec --fake` loads only chunks with code in them. A chunk that only
 * re-exports another (a stub) appears when a module that several commands share is also the target of an import():
 * each one costs every run a module load (~0.02-0.04 ms in the binary). exec.ts, cli.ts and @qmpkit/qmp's index
 * each were such a target once; this keeps them from becoming one again.
 */
import { expect, test } from "bun:test";
import { basename, join } from "node:path";

test("exec --fake loads no chunk that only re-exports another", async () => {
  const build = await Bun.build({
    entrypoints: [join(import.meta.dir, "../src/main.ts")],
    splitting: true,
    format: "esm",
    target: "bun",
    // As `bun build` names them (chunks after their first module), which the walk below relies on.
    naming: { entry: "[name].[ext]", chunk: "[name]-[hash].[ext]" },
  });
  expect(build.success).toBe(true);
  const chunks = new Map<string, string>();
  for (const output of build.outputs) {
    if (output.path.endsWith(".js")) chunks.set(basename(output.path), await output.text());
  }
  const text = (name: string): string => chunks.get(name) ?? "";
  const imports = (name: string, pattern: RegExp): string[] =>
    [...text(name).matchAll(pattern)].map((m) => m[1] as string).filter((n) => chunks.has(n));
  /** A chunk and every chunk it imports statically: what loading it evaluates. */
  const closure = (name: string, into = new Set<string>()): Set<string> => {
    if (into.has(name)) return into;
    into.add(name);
    for (const dep of imports(name, /(?:from|import)\s*"\.\/([^"]+\.js)"/g)) closure(dep, into);
    return into;
  };
  /** The chunk that `import()` calls in `from` load whose name starts with `prefix`. */
  const loadedBy = (from: Set<string>, prefix: string): string => {
    const targets = [...from].flatMap((name) => imports(name, /import\("\.\/([^"]+\.js)"\)/g));
    const target = targets.find((name) => name.startsWith(prefix));
    if (target === undefined) throw new Error(`no import() of a ${prefix}* chunk`);
    return target;
  };

  const loaded = closure("main.js");
  const exec = closure(loadedBy(loaded, "exec-"));
  for (const name of exec) loaded.add(name);
  for (const prefix of ["embedded-fake-", "client-session-"]) {
    for (const name of closure(loadedBy(exec, prefix))) loaded.add(name);
  }
  // Nothing but import and export statements (and comments) once the code is stripped of them.
  const stubs = [...loaded].filter(
    (name) =>
      text(name)
        .replace(/\/\/[^\n]*|#![^\n]*/g, "")
        .replace(
          /import\s*\{[^}]*\}\s*from\s*"[^"]*";|import\s*"[^"]*";|export\s*\{[^}]*\}(\s*from\s*"[^"]*")?;/g,
          "",
        )
        .trim() === "",
  );
  expect(stubs).toEqual([]);
  expect(loaded.size).toBeGreaterThan(5);
});
