import { describe, expect, test } from "bun:test";
import { loadProfile } from "../../../packages/testkit/src/profiles/profile.ts";
import { completeHmp, hmpCompletionSource } from "../src/shell/hmp-complete.ts";
import { hmpCpuIndex } from "../src/shell/parse.ts";
import { findInHistory } from "../src/shell/reverse-search.ts";

// The help texts QEMU 7.2 printed, as the testkit's profile recorded them.
const recorded = await loadProfile({ qemuVersion: "7.2", machine: "none" });
const helpText = (line: string) =>
  recorded.returnOf<string>("human-monitor-command", { "command-line": line });
const source = hmpCompletionSource(helpText("help"), helpText("help info"));

describe("HMP completion from QEMU's help text", () => {
  test("command words and their aliases; continuation lines are not commands", () => {
    expect(source.commands).toContain("cont");
    expect(source.commands).toContain("c");
    expect(source.commands).toContain("drive_add");
    expect(source.commands.some((c) => c.startsWith("[") || c.includes("="))).toBe(false);
    expect(completeHmp(source, "block_job_c")).toEqual([
      ["block_job_cancel", "block_job_complete"],
      "block_job_c",
    ]);
  });

  test("info subcommands after 'info', command words after 'help'", () => {
    expect(completeHmp(source, "info blo")).toEqual([["block", "block-jobs", "blockstats"], "blo"]);
    expect(completeHmp(source, "help migrate_s")).toEqual([
      ["migrate_set_capability", "migrate_set_parameter", "migrate_start_postcopy"],
      "migrate_s",
    ]);
    expect(completeHmp(source, "info status x")).toEqual([[], "x"]);
    expect(completeHmp(source, "stop ")).toEqual([[], ""]);
  });

  test("nothing known, nothing offered", () => {
    expect(completeHmp(hmpCompletionSource("", ""), "in")).toEqual([[], "in"]);
  });
});

test("hmpCpuIndex reads 'cpu N' only", () => {
  expect(hmpCpuIndex(" cpu 2 ")).toBe(2);
  expect(hmpCpuIndex("cpu")).toBeNaN();
  expect(hmpCpuIndex("cpu 1 2")).toBeNaN();
  expect(hmpCpuIndex("cpus")).toBeUndefined();
  expect(hmpCpuIndex("info cpus")).toBeUndefined();
});

test("findInHistory: the first line at or after 'from' (newest first) containing the text", () => {
  const history = ["cont", "query-name", "stop", "query-status"];
  expect(findInHistory(history, "que", 0)).toBe(1);
  expect(findInHistory(history, "que", 2)).toBe(3);
  expect(findInHistory(history, "que", 4)).toBe(-1);
  expect(findInHistory(history, "", 0)).toBe(0);
});
