import type { DefinedCommand } from "../cli.ts";

/** A subcommand as `qmpkit --help` lists it, and how to load its spec. */
export interface CommandEntry {
  readonly name: string;
  /** The spec's `summary`, repeated here so `--help` loads no command module. */
  readonly summary: string;
  load(): Promise<DefinedCommand>;
}

/**
 * Every subcommand, in the order `qmpkit --help` lists them. A run loads only the module of the command it
 * runs: loading all of them (and what they import) cost `exec` about a millisecond of start-up.
 * commands.test.ts checks that names and summaries match the specs in `COMMANDS` (index.ts).
 */
export const COMMAND_TABLE: readonly CommandEntry[] = [
  {
    name: "shell",
    summary: "interactive QMP shell, compatible with qmp-shell's syntax",
    load: async () => (await import("./shell.ts")).shellCommand as DefinedCommand,
  },
  {
    name: "exec",
    summary: "run one command and print its return value as JSON",
    load: async () => (await import("./exec.ts")).execCommand as DefinedCommand,
  },
  {
    name: "events",
    summary: "print events as JSON Lines until interrupted",
    load: async () => (await import("./events.ts")).eventsCommand as DefinedCommand,
  },
  {
    name: "schema",
    summary: "list commands and events, or show one command's arguments, a type, a union branch",
    load: async () => (await import("./schema.ts")).schemaCommand as DefinedCommand,
  },
  {
    name: "qom",
    summary: "browse and change the QEMU object model (qom-list/get/set, a tree)",
    load: async () => (await import("./qom.ts")).qomCommand as DefinedCommand,
  },
  {
    name: "progress",
    summary: "live progress bars for block jobs and migration, with rate and ETA",
    load: async () => (await import("./progress.ts")).progressCommand as DefinedCommand,
  },
  {
    name: "ps",
    summary: "list the QEMUs running on this host, with their names, QMP addresses and status",
    load: async () => (await import("./ps.ts")).psCommand as DefinedCommand,
  },
  {
    name: "fake",
    summary: "run the fake QEMU in the foreground: a mock QMP server for any language's tests",
    load: async () => (await import("./fake.ts")).fakeCommand as DefinedCommand,
  },
  {
    name: "fake-qemu",
    summary: "run the fake QEMU with qemu-system-x86_64's command line (a drop-in for tests)",
    load: async () => (await import("./fake-qemu.ts")).fakeQemuCommand as DefinedCommand,
  },
  {
    name: "qemu",
    summary: "start QEMU with a QMP socket and open the shell on it (qmp-shell-wrap)",
    load: async () => (await import("./qemu.ts")).qemuCommand as DefinedCommand,
  },
  {
    name: "ga",
    summary: "run a QEMU guest agent (qemu-ga) command, or a program in the guest",
    load: async () => (await import("./ga.ts")).gaCommand as DefinedCommand,
  },
];
