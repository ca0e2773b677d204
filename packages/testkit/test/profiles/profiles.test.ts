import { describe, expect, spyOn, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { STATEFUL_COMMANDS } from "../../scripts/lib/profile-requests.ts";
import { loadProfile, MACHINES, PROFILE_VERSIONS, requestKey } from "../../src/index.ts";
import { PROFILE_FORMAT, type ProfileData } from "../../src/profiles/format.ts";
import { PackedProfile, packProfile } from "../../src/profiles/pack.ts";
import { MachineProfile, memoryReader } from "../../src/profiles/profile.ts";

const LIBVIRT = JSON.parse(
  readFileSync(join(import.meta.dir, "..", "..", "profiles", "requests", "libvirt-9.0.json"), "utf8"),
) as {
  requests: { machine: "none" | "q35"; command: string; args?: unknown }[];
};

describe("recorded machine profiles", () => {
  test("requestKey ignores key order and treats {} as no arguments", () => {
    expect(requestKey("qom-get", { property: "type", path: "/machine" })).toBe(
      requestKey("qom-get", { path: "/machine", property: "type" }),
    );
    expect(requestKey("query-machines", {})).toBe("query-machines");
    expect(requestKey("qom-list-types", { abstract: true })).toBe('qom-list-types {"abstract":true}');
  });

  for (const [qemuVersion, machine] of PROFILE_VERSIONS.flatMap((v) =>
    MACHINES.map((m) => [v, m] as const),
  )) {
    test(`${qemuVersion} ${machine}: every non-state-changing request libvirt 9.0 sends has a recorded reply`, async () => {
      const profile = await loadProfile({ qemuVersion, machine });
      const missing = LIBVIRT.requests
        .filter((r) => r.machine === machine && !STATEFUL_COMMANDS.has(r.command))
        .filter((r) => !profile.has(r.command, r.args))
        .map((r) => requestKey(r.command, r.args));
      expect(missing).toEqual([]);
    });

    test(`${qemuVersion} ${machine}: the type sweeps cover every QOM type, with errors kept as replies`, async () => {
      const profile = await loadProfile({ qemuVersion, machine });
      expect(profile.qemuVersion).toStartWith(`${qemuVersion}.`);
      const types = profile.types();
      expect(types.length).toBeGreaterThan(700);
      for (const { name } of types) {
        expect(profile.has("device-list-properties", { typename: name })).toBe(true);
        const listed =
          profile.has("qom-list-properties", { typename: name }) ||
          profile.crash("qom-list-properties", { typename: name });
        expect(Boolean(listed)).toBe(true);
      }
      expect(profile.reply("device-list-properties", { typename: "qmpkit-no-such-type" })).toMatchObject({
        kind: "error",
        errorClass: "DeviceNotFound",
        desc: "Device 'qmpkit-no-such-type' not found",
      });
      const blk = profile.returnOf<{ name: string }[]>("device-list-properties", {
        typename: "virtio-blk-pci",
      });
      expect(blk.map((p) => p.name)).toContain("drive");
    });
  }

  test("q35: the QOM tree holds the vCPU with every property libvirt reads", async () => {
    const q35 = await loadProfile({ machine: "q35" });
    const cpu = q35.qomTree().get("/machine/unattached/device[0]");
    expect(cpu).toBeDefined();
    const read = LIBVIRT.requests.filter((r) => r.machine === "q35" && r.command === "qom-get");
    expect(read.length).toBeGreaterThan(350);
    for (const r of read) {
      const { property } = r.args as { property: string };
      expect(cpu?.values.has(property)).toBe(true);
    }
    expect(q35.returnOf("qom-get", { path: "/machine/unattached/device[0]", property: "type" })).toBe(
      "qemu64-x86_64-cpu",
    );
    expect(q35.qomTree().get("/machine")?.children).toContain("/machine/q35");
    expect(q35.startPaused).toBe(true);
    expect(q35.returnOf("query-status")).toEqual({ status: "prelaunch", singlestep: false, running: false });
  });

  test("replies keep QEMU's exact text and the profile says which vary between runs", async () => {
    const none = await loadProfile({ machine: "none" });
    const target = none.reply("query-target");
    expect(target?.kind === "return" && target.text).toBe('{"arch": "x86_64"}');
    expect(none.qemuVersion).toBe("7.2.22");
    expect(none.versionText).toStartWith("QEMU emulator version 7.2.22");
    expect(JSON.parse(none.greetingText)).toHaveProperty("QMP.capabilities", ["oob"]);
    const q35 = await loadProfile({ machine: "q35" });
    expect(q35.isVolatile("query-cpus-fast")).toBe(true);
    expect(q35.isVolatile("query-machines")).toBe(false);
    const chardev = q35.reply("query-chardev");
    expect(chardev?.kind === "return" && chardev.text).toContain(q35.socketPlaceholder);
  });

  test("10.0 q35: QEMU 10.0's own answers (no singlestep in query-status)", async () => {
    const q35 = await loadProfile({ qemuVersion: "10.0", machine: "q35" });
    expect(q35.returnOf("query-status")).toEqual({ status: "prelaunch", running: false });
    expect(q35.versionText).toStartWith("QEMU emulator version 10.0.");
    expect(q35.commands()).not.toEqual((await loadProfile({ machine: "q35" })).commands());
  });

  test("a packed profile reads its header at once and inflates nothing before a reply is asked for", () => {
    const data: ProfileData = {
      format: PROFILE_FORMAT,
      qemu: {
        version: "7.2.22",
        versionText: "QEMU emulator version 7.2.22 (Dèbian)",
        greeting: '{"QMP": {}}',
      },
      machine: "none",
      args: ["-machine", "none"],
      startPaused: false,
      pool: ['{"return": {"arch": "x86_64"}}', '{"return": {}}'],
      replies: { "query-target": 0, stop: 1, 'qom-get {"path":"/"}': 1 },
      crashes: { 'qom-list-properties {"typename":"x"}': "abort" },
      volatile: ["query-target"],
    };
    const gunzip = spyOn(Bun, "gunzipSync");
    try {
      const profile = new MachineProfile(new PackedProfile(packProfile(data)));
      expect([profile.versionText, profile.greetingText, profile.args, profile.startPaused]).toEqual([
        data.qemu.versionText,
        data.qemu.greeting,
        data.args,
        false,
      ]);
      expect(gunzip).not.toHaveBeenCalled();
      expect(profile.returnOf("query-target")).toEqual({ arch: "x86_64" });
      expect(gunzip).toHaveBeenCalled();
      expect(profile.keys()).toEqual(Object.keys(data.replies));
      expect(profile.replyTextByKey('qom-get {"path":"/"}')).toBe('{"return": {}}');
      expect(profile.crashKeys()).toEqual(Object.keys(data.crashes));
      expect(profile.isVolatile("query-target")).toBe(true);
    } finally {
      gunzip.mockRestore();
    }
  });

  test("a packed schema's entries are read from their own bytes, past non-ASCII text and other replies", () => {
    const schema = [
      { name: "q", "meta-type": "command", "arg-type": "0", "ret-type": "0" },
      { name: "0", "meta-type": "object", members: [{ name: "é\u2028", type: "str" }] },
      { name: "e", "meta-type": "enum", values: ["ü", "x"] },
    ];
    const schemaText = `{"return": [${schema.map((entry) => JSON.stringify(entry)).join(", ")}]}`;
    const data: ProfileData = {
      format: PROFILE_FORMAT,
      qemu: { version: "7.2.22", versionText: "", greeting: "{}" },
      machine: "none",
      args: [],
      startPaused: false,
      pool: ['{"return": "ä"}', schemaText],
      replies: { "query-target": 0, "query-qmp-schema": 1 },
      crashes: {},
      volatile: [],
    };
    const profile = new MachineProfile(new PackedProfile(packProfile(data)));
    const text = profile.schemaText();
    for (const entry of schema) expect(text.entry(entry.name)).toEqual(entry as never);
    expect(text.entry("é\u2028")).toBeUndefined();
    expect(text.text).toBe(schemaText.slice('{"return": '.length, -1));
    const none = new PackedProfile(packProfile({ ...data, pool: ["{}"], replies: { "query-target": 0 } }));
    expect(none.schemaLayout()).toBeUndefined();
  });

  for (const qemuVersion of PROFILE_VERSIONS) {
    test(`${qemuVersion}: the schema, which a fake's first command reads, is stored plain: nothing is inflated`, async () => {
      const path = join(import.meta.dir, "..", "..", "profiles", `qemu-${qemuVersion}`, "none.qprof");
      const bytes = new Uint8Array(await Bun.file(path).arrayBuffer());
      const gunzip = spyOn(Bun, "gunzipSync");
      try {
        const profile = new MachineProfile(new PackedProfile(bytes));
        const entry = profile.schemaText().entry("query-status");
        expect(entry).toMatchObject({ name: "query-status", "meta-type": "command" });
        expect(profile.replyTextByKey("query-qmp-schema")).toStartWith('{"return": [{"name": ');
        expect(gunzip).not.toHaveBeenCalled();
        // Everything else is still gzipped.
        profile.returnOf("query-commands");
        expect(gunzip).toHaveBeenCalled();
      } finally {
        gunzip.mockRestore();
      }
    });
  }

  for (const qemuVersion of PROFILE_VERSIONS) {
    // The compiled CLI's profiles are embedded files, which Bun serves from memory: a one-command fake copies the
    // header, the schema's index and the entries it checks, not the whole file (see memoryReader).
    test(`${qemuVersion}: a profile read from memory copies only what a one-command session uses`, async () => {
      const path = join(import.meta.dir, "..", "..", "profiles", `qemu-${qemuVersion}`, "none.qprof");
      const bytes = new Uint8Array(await Bun.file(path).arrayBuffer());
      expect(memoryReader(Bun.file(path))).toBeUndefined();
      const reader = memoryReader(new Blob([bytes]));
      if (reader === undefined) throw new Error("an in-memory Blob's reads did not resolve at once");
      let copied = 0;
      const packed = new PackedProfile((start, end) => {
        const part = reader(start, end);
        expect(part).toEqual(bytes.subarray(start, end));
        copied += part.length;
        return part;
      });
      const counted = new MachineProfile(packed);
      const whole = new MachineProfile(new PackedProfile(bytes));
      expect(counted.greetingText).toBe(whole.greetingText);
      // The layout itself, not schemaText(): that one is shared by every profile of one QEMU, and read already.
      const layout = packed.schemaLayout();
      const entry = (name: string) => JSON.parse(layout?.entryText(name) ?? "null") as Record<string, string>;
      const command = entry("query-status");
      expect(command).toEqual(whole.schemaText().entry("query-status") as never);
      expect(entry(command["ret-type"] as string)).toEqual(
        whole.schemaText().entry(command["ret-type"] as string) as never,
      );
      expect(entry("qmp_capabilities")).toEqual(whole.schemaText().entry("qmp_capabilities") as never);
      expect(copied).toBeLessThan(bytes.length / 8);
      // Everything else is read when asked for, and reads the same.
      expect(counted.keys()).toEqual(whole.keys());
      expect(counted.returnOf("query-commands")).toEqual(whole.returnOf("query-commands"));
      expect(counted.replyTextByKey("query-qmp-schema")).toBe(whole.replyTextByKey("query-qmp-schema"));
    });
  }

  test("loading is cached and an unknown version is refused with the recorded ones named", async () => {
    expect(await loadProfile({ machine: "q35" })).toBe(
      await loadProfile({ qemuVersion: "7.2", machine: "q35" }),
    );
    // @ts-expect-error: not a recorded version
    await expect(loadProfile({ qemuVersion: "1.0", machine: "q35" })).rejects.toThrow(/recorded: 7.2/);
  });
});
