/**
 * Writes checks that are not `bun test` tests (an install, a type-check) as a JUnit report, so that
 * scripts/junit-summary.ts counts them in CI's closing line next to the real test suites.
 */

/** One check's outcome. */
export interface CheckResult {
  name: string;
  outcome: "passed" | "failed" | "skipped";
  ms: number;
  /** What went wrong (failed) or why it did not run (skipped). */
  detail?: string;
}

function attr(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function cdata(text: string): string {
  // "]]>" would end the section early: split it across two sections.
  return `<![CDATA[${text.replace(/]]>/g, "]]]]><![CDATA[>")}]]>`;
}

/** The report as text: one `<testsuites>` with the totals junit-summary.ts reads, one suite named `suite`. */
export function junitReport(suite: string, results: readonly CheckResult[]): string {
  const failed = results.filter((r) => r.outcome === "failed").length;
  const skipped = results.filter((r) => r.outcome === "skipped").length;
  const seconds = (results.reduce((sum, r) => sum + r.ms, 0) / 1000).toFixed(3);
  const totals = `tests="${results.length}" failures="${failed}" errors="0" skipped="${skipped}" time="${seconds}"`;
  const cases = results.map((r) => {
    const open = `    <testcase name="${attr(r.name)}" classname="${attr(suite)}" time="${(r.ms / 1000).toFixed(3)}"`;
    if (r.outcome === "passed") return `${open} />`;
    const tag = r.outcome === "failed" ? "failure" : "skipped";
    const firstLine = (r.detail ?? "").split("\n")[0] ?? "";
    return `${open}>\n      <${tag} message="${attr(firstLine)}">${cdata(r.detail ?? "")}</${tag}>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${attr(suite)}" ${totals}>`,
    `  <testsuite name="${attr(suite)}" ${totals}>`,
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
