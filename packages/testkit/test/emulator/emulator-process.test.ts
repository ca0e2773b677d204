/**
 * The emulator as a process, launched the way programs launch QEMU: libvirt's inherited listening fd, several
 * monitors on one VM, `-daemonize` + `-pidfile`, `-S`/`-name`/`-uuid`, `quit`, and steering from outside with
 * `QMPKIT_FAKE_QEMU_SCRIPT`/`QMPKIT_FAKE_QEMU_LOG`. The emulator runs as 7.2 and as 10.0; where the real QEMU of
 * that generation is here (the Debian 13 tree for 10.0), the same command line is run on it too and the observable
 * outcome compared.
 */

import { dlopen, ptr } from "bun:ffi";
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@qmpkit/qmp";
import { qemu10Binary, requireQemu10, skipWithoutQemu, skipWithoutQemu10 } from "../../src/index.ts";
import { within } from "../helpers.ts";
import { EMULATOR_MAIN } from "./emulator-binary.ts";

/** QEMU creates its socket file a moment before it listens: a missing or refusing socket is retried. */
const READY = { retry: { attempts: 500, delayMs: 20 }, timeoutMs: 15_000 };

const EMULATOR = [process.execPath, EMULATOR_MAIN];
const QEMU = ["qemu-system-x86_64"];
const BASE = ["-machine", "none", "-nodefaults", "-display", "none"];

const dirs: string[] = [];
const children: Bun.Subprocess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
    await child.exited;
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  // /tmp: the one directory the QEMU 10.0 tree shares with the host.
  const dir = mkdtempSync(join("/tmp", "qmpkit-emu-proc-"));
  dirs.push(dir);
  return dir;
}

function launch(
  command: string[],
  args: string[],
  options: { env?: Record<string, string>; fd?: number } = {},
) {
  const child = Bun.spawn([...command, ...args], {
    stdio: ["ignore", "pipe", "pipe", ...(options.fd === undefined ? [] : [options.fd])],
    env: { ...process.env, ...options.env },
  });
  children.push(child);
  return child;
}

/** Resolves once `path` exists (a socket or a pidfile), or rejects after 10 s. */
async function appears(path: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within 10 s`);
    await Bun.sleep(10);
  }
}

/** A listening unix socket made with libc, as libvirt makes the monitor socket it hands QEMU as fd 3. */
function listeningSocket(path: string): { fd: number; close(): void } {
  const libc = dlopen("libc.so.6", {
    socket: { args: ["int", "int", "int"], returns: "int" },
    bind: { args: ["int", "ptr", "int"], returns: "int" },
    listen: { args: ["int", "int"], returns: "int" },
    close: { args: ["int"], returns: "int" },
  });
  // AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC: only the child that gets it as fd 3 keeps it.
  const fd = libc.symbols.socket(1, 1 | 0o2000000, 0);
  const address = new Uint8Array(110);
  new DataView(address.buffer).setUint16(0, 1, true);
  address.set(new TextEncoder().encode(path), 2);
  if (libc.symbols.bind(fd, ptr(address), 110) !== 0 || libc.symbols.listen(fd, 5) !== 0) {
    throw new Error("cannot make a listening socket");
  }
  return { fd, close: () => void libc.symbols.close(fd) };
}

/**
 * Starts `command` as libvirt starts QEMU: its monitor an already-listening socket at `path`, inherited as fd 3
 * (`-chardev socket,id=charmonitor,fd=3` + `-mon`), after `args`.
 */
function launchAsLibvirt(
  command: string[],
  path: string,
  args: string[],
  env: Record<string, string> | undefined,
): Bun.Subprocess {
  const socket = listeningSocket(path);
  try {
    return launch(
      command,
      [
        ...args,
        ...["-chardev", "socket,id=charmonitor,fd=3,server=on,wait=off"],
        ...["-mon", "chardev=charmonitor,id=monitor,mode=control"],
      ],
      { fd: socket.fd, ...(env === undefined ? {} : { env }) },
    );
  } finally {
    socket.close();
  }
}

/** Greeting and a few answers over the monitor at `path`, then `quit`. */
async function talk(path: string, commands: string[]): Promise<unknown[]> {
  const client = await connect(`unix:${path}`, READY);
  const answers: unknown[] = [client.greeting];
  for (const command of commands) answers.push(await client.execute(command as "query-status"));
  await client.execute("quit").catch(() => {});
  await client.disconnect().catch(() => {});
  return answers;
}

/**
 * The fake and the real QEMU of each generation, side by side: what one does, the other must. `status` is the
 * generation's `query-status` shape (10.0 dropped `singlestep`).
 */
const binaries: {
  name: string;
  command: string[];
  env?: Record<string, string>;
  skip: boolean;
  require?: () => void;
  version: { major: number; minor: number };
  status: (status: string) => Record<string, unknown>;
}[] = [
  {
    name: "the emulator",
    command: EMULATOR,
    skip: false,
    version: { major: 7, minor: 2 },
    status: (status) => ({ status, singlestep: false, running: status === "running" }),
  },
  {
    name: "real QEMU",
    command: QEMU,
    skip: skipWithoutQemu(),
    version: { major: 7, minor: 2 },
    status: (status) => ({ status, singlestep: false, running: status === "running" }),
  },
  {
    name: "the emulator as 10.0",
    command: EMULATOR,
    env: { QMPKIT_FAKE_QEMU_VERSION: "10.0" },
    skip: false,
    version: { major: 10, minor: 0 },
    status: (status) => ({ status, running: status === "running" }),
  },
  {
    name: "real QEMU 10.0",
    command: [qemu10Binary()],
    skip: skipWithoutQemu10(),
    require: requireQemu10,
    version: { major: 10, minor: 0 },
    status: (status) => ({ status, running: status === "running" }),
  },
];

describe("launched as libvirt launches QEMU", () => {
  for (const { name, command, env, skip, require, version, status: statusOf } of binaries) {
    test.skipIf(skip)(
      `${name}: serves QMP on an inherited listening fd (-chardev socket,fd=3 + -mon)`,
      async () => {
        require?.();
        const path = join(tempDir(), "monitor.sock");
        const child = launchAsLibvirt(command, path, [...BASE, "-S"], env);
        const [greeting, status] = await within(talk(path, ["query-status"]), 15_000, "the monitor on fd 3");
        expect(greeting).toMatchObject({ QMP: { version: { qemu: version }, capabilities: ["oob"] } });
        expect(status).toEqual(statusOf("prelaunch"));
        expect(await within(child.exited, 10_000, "exit after quit")).toBe(0);
      },
      30_000,
    );
  }
});

describe("libvirt's serial console and monitor on q35", () => {
  for (const { name, command, env, skip, require } of binaries) {
    test.skipIf(skip)(
      `${name}: a pty serial port on the ISA bus holds its chardev open; query-chardev names the fd monitor by label and path`,
      async () => {
        require?.();
        const path = join(tempDir(), "monitor.sock");
        const child = launchAsLibvirt(
          command,
          path,
          [
            ...["-machine", "q35,accel=tcg", "-m", "256", "-nodefaults", "-display", "none", "-S"],
            ...["-chardev", "pty,id=charserial0"],
            ...["-device", '{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}'],
          ],
          env,
        );
        const client = await within(connect(`unix:${path}`, READY), 15_000, "the monitor on fd 3");
        const answer = (command: string, args?: Record<string, unknown>) =>
          client.executeUntyped(command, args).then(
            (value) => ({ return: value }),
            (error: { errorClass?: string; desc?: string }) => ({ error: error.desc }),
          );
        const chardevs = (await client.executeUntyped("query-chardev")) as Record<string, unknown>[];
        const listed: Record<string, unknown>[] = chardevs.map((c) => ({
          ...c,
          filename: String(c.filename).replace(/\/dev\/pts\/\d+/, "/dev/pts/N"),
        }));
        expect(listed).toEqual([
          { "frontend-open": true, filename: "pty:/dev/pts/N", label: "charserial0" },
          { "frontend-open": true, filename: `unix:${path},server=on`, label: "charmonitor" },
        ]);
        expect(
          await answer("qom-get", { path: "/machine/peripheral/serial0", property: "parent_bus" }),
        ).toEqual({
          return: "/machine/unattached/device[2]/isa.0",
        });
        expect(await answer("device_add", { driver: "isa-serial", id: "serial1" })).toEqual({
          error: "Bus 'isa.0' does not support hotplugging",
        });
        expect(await answer("device_del", { id: "serial0" })).toEqual({
          error: "Bus 'isa.0' does not support hotplugging",
        });
        expect(await answer("chardev-remove", { id: "charserial0" })).toEqual({
          error: "Chardev 'charserial0' is busy",
        });
        await client.execute("quit").catch(() => {});
        await client.disconnect().catch(() => {});
        expect(await within(child.exited, 10_000, "exit after quit")).toBe(0);
      },
      30_000,
    );
  }
});

describe("process behaviour", () => {
  for (const { name, command, env, skip, require, status: statusOf } of binaries) {
    test.skipIf(skip)(
      `${name}: -daemonize returns 0 once the monitor listens; -pidfile names the daemon`,
      async () => {
        require?.();
        const dir = tempDir();
        const [socket, pidfile] = [join(dir, "qmp.sock"), join(dir, "qemu.pid")];
        const parent = launch(
          command,
          [...BASE, "-qmp", `unix:${socket},server=on,wait=off`, "-pidfile", pidfile, "-daemonize"],
          env === undefined ? {} : { env },
        );
        expect(await within(parent.exited, 15_000, "the daemonizing parent")).toBe(0);
        // The daemon keeps none of the caller's pipes: reading them to EOF ends (libvirt's probe does this).
        const output = Promise.all([new Response(parent.stdout).text(), new Response(parent.stderr).text()]);
        expect(await within(output, 10_000, "EOF on the caller's stdout and stderr")).toEqual(["", ""]);
        expect(existsSync(socket)).toBe(true);
        const pid = Number(readFileSync(pidfile, "utf8").trim());
        expect(pid).not.toBe(parent.pid);
        expect(process.kill(pid, 0)).toBe(true);
        const [, status] = await talk(socket, ["query-status"]);
        expect(status).toMatchObject({ status: "running" });
        // quit: the daemon exits and takes its pidfile and socket with it.
        const deadline = Date.now() + 10_000;
        while ((existsSync(pidfile) || existsSync(socket)) && Date.now() < deadline) await Bun.sleep(10);
        expect({ pidfile: existsSync(pidfile), socket: existsSync(socket) }).toEqual({
          pidfile: false,
          socket: false,
        });
      },
      30_000,
    );

    test.skipIf(skip)(
      `${name}: -S, -name and -uuid show in query-status, query-name and query-uuid`,
      async () => {
        require?.();
        const socket = join(tempDir(), "qmp.sock");
        const uuid = "209f318e-0e3d-4846-8bf8-ec1212548752";
        launch(
          command,
          [
            ...BASE,
            "-S",
            "-name",
            "guest=vm1,debug-threads=on",
            "-uuid",
            uuid,
            "-qmp",
            `unix:${socket},server=on,wait=off`,
          ],
          env === undefined ? {} : { env },
        );
        await appears(socket);
        const [, status, vmName, vmUuid] = await talk(socket, ["query-status", "query-name", "query-uuid"]);
        expect({ status, vmName, vmUuid }).toEqual({
          status: statusOf("prelaunch"),
          vmName: { name: "vm1" },
          vmUuid: { UUID: uuid },
        });
      },
      30_000,
    );
  }

  test("two monitors are one VM: a stop on one is a STOP event and a paused status on the other", async () => {
    const dir = tempDir();
    const [a, b] = [join(dir, "a.sock"), join(dir, "b.sock")];
    const child = launch(EMULATOR, [
      ...BASE,
      "-qmp",
      `unix:${a},server=on,wait=off`,
      "-chardev",
      `socket,id=m2,path=${b},server=on,wait=off`,
      "-mon",
      "chardev=m2,mode=control",
    ]);
    await appears(a);
    await appears(b);
    const first = await connect(`unix:${a}`, READY);
    const second = await connect(`unix:${b}`, READY);
    const stopped = second.waitForEvent("STOP", { timeoutMs: 5000 });
    await first.execute("stop");
    await stopped;
    expect(await second.execute("query-status")).toMatchObject({ status: "paused" });
    await second.execute("quit");
    await first.disconnect().catch(() => {});
    await second.disconnect().catch(() => {});
    expect(await within(child.exited, 10_000, "exit after quit")).toBe(0);
  }, 30_000);

  test("SIGTERM: a SHUTDOWN event, QEMU's line naming the sender, status 0, the socket removed", async () => {
    const socket = join(tempDir(), "qmp.sock");
    const child = launch(EMULATOR, [...BASE, "-qmp", `unix:${socket},server=on,wait=off`]);
    await appears(socket);
    await talk(socket, []).catch(() => {});
    const again = launch(EMULATOR, [
      ...BASE,
      "-msg",
      "timestamp=on",
      "-qmp",
      `unix:${socket}.2,server=on,wait=off`,
    ]);
    await appears(`${socket}.2`);
    // A command round trip: the signal handler is in place once the main loop answers (as in QEMU).
    const client = await connect(`unix:${socket}.2`, READY);
    await client.execute("query-status");
    const shutdown = client.waitForEvent("SHUTDOWN", { timeoutMs: 10_000 });
    again.kill("SIGTERM");
    expect((await shutdown).data).toEqual({ guest: false, reason: "host-signal" });
    expect(await within(again.exited, 10_000, "exit on SIGTERM")).toBe(0);
    const stderr = await new Response(again.stderr).text();
    expect(stderr).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z qemu-system-x86_64: terminating on signal 15 from pid ${process.pid} \\(`,
      ),
    );
    expect(existsSync(`${socket}.2`)).toBe(false);
    await client.disconnect().catch(() => {});
    await within(child.exited, 10_000, "first exit");
  }, 30_000);
});

describe("steering from outside: QMPKIT_FAKE_QEMU_SCRIPT and QMPKIT_FAKE_QEMU_LOG", () => {
  test("a scripted reply, a crash on the 3rd query-name, and a log of what the monitor received", async () => {
    const dir = tempDir();
    const [socket, log] = [join(dir, "qmp.sock"), join(dir, "monitor.jsonl")];
    const script = {
      version: 1,
      commands: { "query-uuid": { return: { UUID: "11111111-2222-3333-4444-555555555555" } } },
      rules: [{ command: "query-name", nth: 3, action: "crash" }],
    };
    const child = launch(EMULATOR, [...BASE, "-qmp", `unix:${socket},server=on,wait=off`], {
      env: { QMPKIT_FAKE_QEMU_SCRIPT: JSON.stringify(script), QMPKIT_FAKE_QEMU_LOG: log },
    });
    await appears(socket);
    const client = await connect(`unix:${socket}`, READY);
    expect(await client.execute("query-uuid")).toEqual({ UUID: "11111111-2222-3333-4444-555555555555" });
    await client.execute("query-name");
    await client.execute("query-name");
    await expect(client.execute("query-name")).rejects.toThrow();
    await client.disconnect().catch(() => {});
    // The process died as a crashed QEMU does: by a signal, without cleaning up.
    expect(await within(child.exited, 10_000, "the crash")).toBe(137);
    const received = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line))
      .filter((line) => line.kind === "received")
      .map((line) => line.message.execute);
    expect(received).toEqual(["qmp_capabilities", "query-uuid", "query-name", "query-name", "query-name"]);
  }, 30_000);

  test("a guest that answers the power button: system_powerdown ends in SHUTDOWN from the guest and exit 0", async () => {
    const socket = join(tempDir(), "qmp.sock");
    const child = launch(EMULATOR, [...BASE, "-qmp", `unix:${socket},server=on,wait=off`], {
      env: { QMPKIT_FAKE_QEMU_SCRIPT: JSON.stringify({ version: 1, guest: { answerPowerdown: true } }) },
    });
    const client = await connect(`unix:${socket}`, READY);
    const shutdown = client.waitForEvent("SHUTDOWN", { timeoutMs: 10_000 });
    await client.execute("system_powerdown");
    expect((await shutdown).data).toEqual({ guest: true, reason: "guest-shutdown" });
    await client.disconnect().catch(() => {});
    expect(await within(child.exited, 10_000, "exit after the guest's shutdown")).toBe(0);
  }, 30_000);

  test("a guest that acknowledges unplugs: device_del of a NIC on a root port ends in DEVICE_DELETED", async () => {
    const socket = join(tempDir(), "qmp.sock");
    const script = { version: 1, guest: { acknowledgeUnplugs: true } };
    const child = launch(
      EMULATOR,
      [
        ...["-machine", "q35", "-nodefaults", "-display", "none"],
        ...["-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1"],
        ...["-device", "virtio-net-pci,id=nic1,bus=rp1"],
        ...["-qmp", `unix:${socket},server=on,wait=off`],
      ],
      { env: { QMPKIT_FAKE_QEMU_SCRIPT: JSON.stringify(script) } },
    );
    const client = await connect(`unix:${socket}`, READY);
    using deleted = client.listen({ names: ["DEVICE_DELETED"] });
    await client.execute("device_del", { id: "nic1" });
    expect((await within(deleted.get(), 10_000, "the backend's DEVICE_DELETED")).data).toEqual({
      path: "/machine/peripheral/nic1/virtio-backend",
    });
    expect((await within(deleted.get(), 10_000, "the device's DEVICE_DELETED")).data).toEqual({
      device: "nic1",
      path: "/machine/peripheral/nic1",
    });
    const pci = (await client.execute("query-pci")) as {
      devices: { qdev_id: string; pci_bridge?: unknown }[];
    }[];
    expect(JSON.stringify(pci)).not.toContain('"nic1"');
    await client.execute("quit");
    await client.disconnect().catch(() => {});
    expect(await within(child.exited, 10_000, "quit")).toBe(0);
  }, 30_000);

  test("a migration that fails at 40%, once: failed and the guest resumed, then a retry completes", async () => {
    const socket = join(tempDir(), "qmp.sock");
    const script = { version: 1, migration: { failAt: 40, times: 1 } };
    const child = launch(
      EMULATOR,
      ["-machine", "q35", "-nodefaults", "-display", "none", "-qmp", `unix:${socket},server=on,wait=off`],
      {
        env: { QMPKIT_FAKE_QEMU_SCRIPT: JSON.stringify(script) },
      },
    );
    const client = await connect(`unix:${socket}`, READY);
    await client.execute("migrate-set-capabilities", {
      capabilities: [{ capability: "events", state: true }],
    });
    using migration = client.listen({ names: ["MIGRATION", "STOP", "RESUME"] });
    const failed = client.waitForEvent("MIGRATION", {
      timeoutMs: 10_000,
      filter: (e) => e.data?.status === "failed",
    });
    await client.execute("migrate", { uri: "exec:cat > /dev/null" });
    await failed;
    // As 7.2 after the switchover (40% is past it): no error-desc. The guest runs again.
    expect(await client.execute("query-migrate")).toEqual({ status: "failed" });
    expect((await client.execute("query-status")).status).toBe("running");
    const seen = migration.clear().map((e) => (e.data as { status?: string } | undefined)?.status ?? e.event);
    expect(seen).toEqual(["setup", "active", "STOP", "failed", "RESUME"]);
    const completed = client.waitForEvent("MIGRATION", {
      timeoutMs: 10_000,
      filter: (e) => e.data?.status === "completed",
    });
    await client.execute("migrate", { uri: "exec:cat > /dev/null" });
    await completed;
    expect((await client.execute("query-migrate")).status).toBe("completed");
    await client.execute("quit");
    await client.disconnect().catch(() => {});
    expect(await within(child.exited, 10_000, "quit")).toBe(0);
  }, 30_000);

  test("bad guest and migration members are errors, never ignored", async () => {
    const cases: [unknown, string][] = [
      [
        { guest: { acknowledgeUnplug: true } },
        "unknown guest member 'acknowledgeUnplug' (this version knows answerPowerdown, acknowledgeUnplugs)",
      ],
      [
        { migration: { failAtPercent: 40 } },
        "unknown migration member 'failAtPercent' (this version knows failAt, times)",
      ],
      [{ migration: { failAt: 100 } }, "migration.failAt must be a percent from 0 to below 100, not 100"],
      [
        { migration: { times: 2 } },
        "migration.times must be a number of migrations (at least 1) beside failAt",
      ],
      [{ guest: { acknowledgeUnplugs: "yes" } }, "guest.acknowledgeUnplugs must be true or false"],
    ];
    for (const [script, message] of cases) {
      const child = launch(EMULATOR, [...BASE], { env: { QMPKIT_FAKE_QEMU_SCRIPT: JSON.stringify(script) } });
      expect(await within(child.exited, 10_000, "exit")).toBe(1);
      expect(await new Response(child.stderr).text()).toBe(
        `qemu-system-x86_64: QMPKIT_FAKE_QEMU_SCRIPT: ${message}\n`,
      );
    }
  }, 60_000);

  test("an unknown member of the script is an error, never ignored", async () => {
    const child = launch(EMULATOR, [...BASE], { env: { QMPKIT_FAKE_QEMU_SCRIPT: '{"guets": {}}' } });
    expect(await within(child.exited, 10_000, "exit")).toBe(1);
    expect(await new Response(child.stderr).text()).toBe(
      "qemu-system-x86_64: QMPKIT_FAKE_QEMU_SCRIPT: unknown member 'guets' (this version knows version, commands, rules, faults, guest, migration)\n",
    );
  }, 30_000);
});
