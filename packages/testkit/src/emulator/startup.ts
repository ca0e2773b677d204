/**
 * The seam between the command line and the VM model: what `-chardev`, `-object`, `-blockdev`, `-netdev` and
 * `-device` create is created through the very QMP commands that hotplug the same things (`chardev-add`,
 * `object-add`, `blockdev-add`, `netdev_add`, `device_add`), in QEMU's order (chardevs, objects, block nodes,
 * drives, netdevs, devices), before any monitor client is served; `-drive`, which no QMP command creates, through
 * the block layer's own drive_new (`FakeQemu.addDriveAtStart`). So a node or device from the command line exists in
 * the model exactly as a hotplugged one, and every subsystem written later works for both without knowing about
 * the emulator.
 *
 * While no subsystem implements one of those commands, the option is accepted and an entry in `fake.errors`
 * says it was not created (`QMPKIT_FAKE_QEMU_LOG` gets it too); a subsystem that refuses the arguments stops the
 * start-up with QEMU's `prog: -device …: <error>` and exit status 1.
 */
import type { SchemaEntry } from "../dispatch/schema-args.ts";
import { QMPCommandError } from "../errors.ts";
import type { FakeQemu } from "../fake-server.ts";
import type { JsonObject } from "../types.ts";
import type { CommandLineDrive } from "../vm/block/drives.ts";
import { ObjectCompletionError } from "../vm/objects.ts";
import type { ChardevSpec, EmulatorConfig, StartupOperation } from "./command-line.ts";
import { EmulatorExit } from "./command-line.ts";
import { typeKeyvalArguments } from "./keyval-types.ts";

const ORDER: readonly StartupOperation["command"][] = [
  "object-add",
  "blockdev-add",
  "netdev_add",
  "device_add",
];

/**
 * Creates the command line's chardevs (those no monitor serves), objects, nodes, drives, netdevs and devices.
 * `-drive` comes after `-blockdev` (QEMU's configure_blockdev), and the device of an `if=virtio` drive after every
 * `-device`, as QEMU appends it to the device list; what a drive warns of goes to `stderr`.
 */
export async function createAtStart(
  fake: FakeQemu,
  config: EmulatorConfig,
  ptys: ReadonlyMap<string, string>,
  prog: string,
  /** Read only for a key=value backend, whose values the schema types. */
  schema: () => readonly SchemaEntry[],
  stderr: { write(text: string): unknown },
): Promise<void> {
  const monitored = new Set(config.monitors.map((m) => m.chardev));
  for (const chardev of config.chardevs) {
    if (monitored.has(chardev.id)) continue;
    await run(fake, prog, chardev.location, "chardev-add", chardevArguments(chardev, ptys));
  }
  const driveDevices: { location: string; args: JsonObject }[] = [];
  for (const command of ORDER) {
    for (const op of config.operations) {
      if (op.command !== command) continue;
      // device properties stay strings from key=value, as qdev parses them per property; the rest is typed.
      const args =
        op.json || command === "device_add" ? op.args : typeKeyvalArguments(schema(), command, op.args);
      await run(fake, prog, op.location, command, args);
    }
    if (command === "blockdev-add") {
      for (const op of config.operations) {
        if (op.command !== "drive") continue;
        let drive: CommandLineDrive;
        try {
          drive = fake.addDriveAtStart(op.args as Record<string, string>);
        } catch (error) {
          throw refusal(prog, op.location, error);
        }
        if (drive.warning !== undefined) stderr.write(drive.warning);
        if (drive.device !== undefined) driveDevices.push({ location: op.location, args: drive.device });
      }
    }
  }
  for (const device of driveDevices) await run(fake, prog, device.location, "device_add", device.args);
  for (const op of config.operations) {
    if (op.command === "audiodev") {
      notCreated(fake, op.command, `${op.location}: not modelled by the fake, accepted but not created`);
    }
  }
}

/** What the VM model refused, as QEMU's `prog: LOCATION: error` exit; anything else is a bug to rethrow. */
function refusal(prog: string, location: string, error: unknown): unknown {
  if (error instanceof ObjectCompletionError) return new EmulatorExit(1, `${prog}: ${error.desc}\n`);
  return error instanceof QMPCommandError
    ? new EmulatorExit(1, `${prog}: ${location}: ${error.desc}\n`)
    : error;
}

async function run(
  fake: FakeQemu,
  prog: string,
  location: string,
  command: string,
  args: Record<string, unknown>,
): Promise<void> {
  let created: boolean;
  try {
    created = await fake.runAtStart(command, args);
  } catch (error) {
    throw refusal(prog, location, error);
  }
  if (!created) {
    notCreated(
      fake,
      command,
      `${location}: no subsystem implements ${command} yet, accepted but not created`,
    );
  }
}

function notCreated(fake: FakeQemu, command: string, message: string): void {
  fake.errors.push({ client: 0, command, message, at: Date.now() });
}

/** `-chardev` as `chardev-add`'s ChardevBackend (QAPI's `{type, data}` form). */
function chardevArguments(chardev: ChardevSpec, ptys: ReadonlyMap<string, string>): Record<string, unknown> {
  const { options } = chardev;
  let data: Record<string, unknown> = {};
  if (chardev.backend === "socket") {
    const addr =
      options.fd !== undefined
        ? { type: "fd", data: { str: options.fd } }
        : options.path !== undefined
          ? { type: "unix", data: { path: options.path } }
          : { type: "inet", data: { host: options.host ?? "", port: options.port ?? "0" } };
    data = { addr, server: options.server === "on", wait: options.wait !== "off" };
  } else if (chardev.backend === "file" || chardev.backend === "pipe") {
    data = { out: options.path ?? "" };
  }
  const args: Record<string, unknown> = { id: chardev.id, backend: { type: chardev.backend, data } };
  // The pty the emulator already opened (and announced on stderr), for query-chardev's `pty:` filename.
  const pty = ptys.get(chardev.id);
  if (pty !== undefined) args["x-qmpkit-pty"] = pty;
  return args;
}
