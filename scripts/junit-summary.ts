// Sums the JUnit reports bun test wrote, so CI's last line counts what really ran.
import { readdirSync } from "node:fs";
import { join } from "node:path";

export interface TestTotals {
  passed: number;
  failed: number;
  skipped: number;
}

function attribute(xml: string, name: string): number {
  const match = new RegExp(`<testsuites\\b[^>]*\\s${name}="(\\d+)"`).exec(xml);
  return match?.[1] ? Number(match[1]) : 0;
}

export async function summarise(reportDir: string): Promise<TestTotals> {
  const totals: TestTotals = { passed: 0, failed: 0, skipped: 0 };
  for (const file of readdirSync(reportDir).filter((f) => f.endsWith(".xml"))) {
    const xml = await Bun.file(join(reportDir, file)).text();
    const tests = attribute(xml, "tests");
    const failed = attribute(xml, "failures") + attribute(xml, "errors");
    const skipped = attribute(xml, "skipped");
    totals.failed += failed;
    totals.skipped += skipped;
    totals.passed += tests - failed - skipped;
  }
  return totals;
}

export function formatTotals(t: TestTotals): string {
  return `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`;
}

if (import.meta.main) {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: bun scripts/junit-summary.ts REPORT_DIR");
  const totals = await summarise(dir);
  console.log(formatTotals(totals));
  process.exit(totals.failed > 0 || totals.passed === 0 ? 1 : 0);
}
