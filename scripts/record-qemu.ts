#!/usr/bin/env bun
/**
 * Re-records everything qmpkit keeps from one QEMU generation, in one command:
 *
 *   bun scripts/record-qemu.ts 7.2      # the host's qemu-system-x86_64
 *   bun scripts/record-qemu.ts 10.0     # the Debian 13 tree (built first by scripts/qemu-10.0-tree.sh, as root)
 *
 * 1. the introspection schema (packages/testkit/fixtures/qemu-<V>-schema.json) and the shipped types generated
 *    from it (packages/qmp/src/qapi/qemu-<V>.ts),
 * 2. the machine profiles none and q35 (packages/testkit/profiles/qemu-<V>/),
 * 3. the contract flows' real-QEMU transcripts (packages/testkit/fixtures/flows/qemu-<V>/),
 * 4. what the emulator prints for -version, -help and the lists, its option table (packages/testkit/fixtures/
 *    qemu-<V>-cli.json), and the outcome of each command-line case (qemu-<V>-cli-cases.json),
 * 5. with virsh installed, libvirt 9.0's scenario on that QEMU (packages/testkit/fixtures/libvirt/*-qemu-<V>-*).
 * Then `git diff --stat` shows what the QEMU now answers differently. Each step is its own script, run as a child
 * so that a failure names the step; the first failure stops the run.
 */
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const versions = ["7.2", "10.0"] as const;
type Version = (typeof versions)[number];

function fail(message: string): never {
  console.error(`record-qemu: ${message}`);
  process.exit(2);
}

async function run(what: string, argv: string[]): Promise<string> {
  console.error(`record-qemu: ${what}`);
  const proc = Bun.spawn(argv, { cwd: root, stdout: "pipe", stderr: "inherit" });
  const [out, status] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (status !== 0) fail(`${what} failed (exit ${status})`);
  return out;
}

const version = Bun.argv[2] as Version | undefined;
if (version === undefined || !versions.includes(version)) {
  fail(`usage: bun scripts/record-qemu.ts ${versions.join("|")}`);
}

const binary =
  version === "10.0"
    ? (await run("the Debian 13 tree", [join(root, "scripts/qemu-10.0-tree.sh")])).trim().split("\n").at(-1)
    : "qemu-system-x86_64";
if (binary === undefined || binary === "") fail("scripts/qemu-10.0-tree.sh printed no wrapper path");

// "QEMU emulator version 10.0.13 (Debian …)": the exact version goes into the generated types' header.
const versionLine = await run(`${binary} -version`, [binary, "-version"]);
const exact = /version (\d+\.\d+\.\d+)/.exec(versionLine)?.[1];
if (exact === undefined || !exact.startsWith(`${version}.`)) {
  fail(`${binary} is QEMU ${exact ?? "(unknown)"}, not ${version}`);
}

const bun = process.execPath;
const schema = `packages/testkit/fixtures/qemu-${version}-schema.json`;
await run("schema", [bun, "packages/testkit/scripts/record-fixtures.ts", "--schema-only", "--qemu", binary]);
await run("types", [
  bun,
  "packages/qmp/scripts/generate-types.ts",
  "--schema",
  schema,
  "--qemu-version",
  exact,
  "--out",
  `packages/qmp/src/qapi/qemu-${version}.ts`,
]);
// The tree shares only /tmp with the host, so the recorder's sockets go there.
await run("profiles", [
  bun,
  "packages/testkit/scripts/record-profile.ts",
  "--qemu",
  binary,
  "--socket-dir",
  "/tmp",
]);
await run("flow transcripts", [bun, "packages/testkit/scripts/record-flows.ts", "--qemu-version", version]);
await run("emulator texts", [bun, "packages/testkit/scripts/record-emulator.ts", "--binary", binary]);
if (Bun.which("virsh") !== null) {
  await run("libvirt scenario", [
    bun,
    "packages/testkit/scripts/record-libvirt.ts",
    "--qemu-version",
    version,
  ]);
}
// The recorders write plain JSON.stringify; the repository's JSON is formatted by biome.
await run("formatting", [
  bun,
  "x",
  "biome",
  "format",
  "--write",
  `packages/testkit/profiles/qemu-${version}`,
]);
process.stdout.write(
  await run("what changed", [
    "git",
    "diff",
    "--stat",
    "--",
    schema,
    `packages/qmp/src/qapi/qemu-${version}.ts`,
    `packages/testkit/profiles/qemu-${version}`,
    `packages/testkit/fixtures/flows/qemu-${version}`,
    `packages/testkit/fixtures/qemu-${version}-cli.json`,
    `packages/testkit/fixtures/qemu-${version}-cli-cases.json`,
    `packages/testkit/fixtures/libvirt/libvirt-9.0-qemu-${version}-steps.txt`,
  ]),
);
console.error(`record-qemu: QEMU ${exact} recorded; run bun run test to hold the fake and the types to it`);
