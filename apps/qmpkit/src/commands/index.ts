import type { DefinedCommand } from "../cli.ts";
import { eventsCommand } from "./events.ts";
import { execCommand } from "./exec.ts";
import { fakeCommand } from "./fake.ts";
import { fakeQemuCommand } from "./fake-qemu.ts";
import { gaCommand } from "./ga.ts";
import { progressCommand } from "./progress.ts";
import { psCommand } from "./ps.ts";
import { qemuCommand } from "./qemu.ts";
import { qomCommand } from "./qom.ts";
import { schemaCommand } from "./schema.ts";
import { shellCommand } from "./shell.ts";

/** Every subcommand, in the order `qmpkit --help` lists them. */
export const COMMANDS: readonly DefinedCommand[] = [
  shellCommand,
  execCommand,
  eventsCommand,
  schemaCommand,
  qomCommand,
  progressCommand,
  psCommand,
  fakeCommand,
  fakeQemuCommand,
  qemuCommand,
  gaCommand,
] as readonly DefinedCommand[];
