/**
 * How the compiled CLI's code is split: `qmpkit --version` and `exec --fake` load only chunks with our code in them.
 * A chunk that only re-exports another (a stub) appears when a module that several commands share is also the
 * target of an import(); a chunk with only the bundler's `__require` helper, when a module on the path calls
 * require(). Each costs every run a module load (~0.02-0.05 ms in the binary). exec.ts, cli.ts and @qmpkit/qmp's
 * index each were such a target once, and output.ts's require() pulled in the helper; this keeps them out.
 */
import { expect, test } from "bun:test";
import { basename, join } from "node:path";

test("--version and exec --fake load no chunk without a module of ours in it", async () => {
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
  // Every chunk holds a module of ours (the bundler marks each with a `// path` line): not only imports and
  // exports (a re-export stub), nor only the bundler's own `__require` helper, which main.js once loaded for
  // output.ts's require() calls, a chunk more for `--version` too.
  const codeless = (names: Iterable<string>): string[] =>
    [...names].filter((name) => !/^\/\/ [\w./-]+\.(ts|json|qprof|gz)$/m.test(text(name)));
  expect(codeless(closure("main.js"))).toEqual([]);
  expect(codeless(loaded)).toEqual([]);
  expect(loaded.size).toBeGreaterThan(5);
});
