// The README's test command: the whole workspace suite, with a JUnit report so the closing line is derived
// from the real run rather than from bun's human-readable summary.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { formatTotals, summarise } from "./junit-summary.ts";

const root = join(import.meta.dir, "..");
const reportDir = process.env.QMPKIT_JUNIT_DIR ?? join(root, ".tmp", "junit");
if (!process.env.QMPKIT_JUNIT_DIR) rmSync(reportDir, { recursive: true, force: true });
mkdirSync(reportDir, { recursive: true });

// Only workspace members: examples/ are separate consumer projects with their own install.
const paths = ["./packages", "./apps"];
const proc = Bun.spawn(
  [
    process.execPath,
    "test",
    ...paths,
    // Real-QEMU and socket tests start processes; bun's 5 s default is tight on a loaded 2-core machine.
    // (bunfig.toml's [test] timeout is not read by bun 1.4.4: measured.)
    "--timeout",
    "20000",
    "--reporter=junit",
    `--reporter-outfile=${join(reportDir, "workspace.xml")}`,
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: ["inherit", "inherit", "inherit"] },
);
const exitCode = await proc.exited;
const totals = await summarise(reportDir);
console.log(formatTotals(totals));
process.exit(exitCode !== 0 || totals.failed > 0 || totals.passed === 0 ? 1 : 0);
