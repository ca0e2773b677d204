/**
 * Guards the recorded QEMU fixtures (see fixtures/qemu-7.2-README.md): a truncated or hand-mangled
 * file should fail here rather than as a puzzling mismatch in the fake server or the type generator.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const dir = join(import.meta.dir, "..", "fixtures");

interface Entry {
  case: string;
  mode: "negotiation" | "command";
  send: string;
  recv: Record<string, unknown>[];
  session: string;
  closed?: boolean;
}

describe("qemu-7.2-schema.json", async () => {
  const schema: unknown = await Bun.file(join(dir, "qemu-7.2-schema.json")).json();

  test("is an array of more than 1000 introspection entries", () => {
    expect(Array.isArray(schema)).toBe(true);
    expect((schema as unknown[]).length).toBeGreaterThan(1000);
  });

  test("every entry has a name and a meta-type", () => {
    for (const entry of schema as Record<string, unknown>[]) {
      expect(typeof entry.name).toBe("string");
      expect(typeof entry["meta-type"]).toBe("string");
    }
  });

  test("holds the commands the fake serves", () => {
    const commands = new Set(
      (schema as Record<string, unknown>[]).filter((e) => e["meta-type"] === "command").map((e) => e.name),
    );
    for (const name of ["qmp_capabilities", "query-status", "query-qmp-schema", "quit", "stop", "cont"]) {
      expect(commands.has(name)).toBe(true);
    }
  });
});

describe("qemu-7.2-transcript.jsonl", async () => {
  const text = await Bun.file(join(dir, "qemu-7.2-transcript.jsonl")).text();
  const lines = text.split("\n").filter((l) => l.length > 0);
  const entries = lines.map((l) => JSON.parse(l) as Entry);

  test("every line is a well-formed case", () => {
    expect(entries.length).toBeGreaterThan(30);
    for (const e of entries) {
      expect(typeof e.case).toBe("string");
      expect(["negotiation", "command"]).toContain(e.mode);
      expect(typeof e.send).toBe("string");
      expect(Array.isArray(e.recv)).toBe(true);
    }
  });

  test("each session opens with a greeting offering oob", () => {
    const sessions = new Set(entries.map((e) => e.session));
    for (const session of sessions) {
      const first = entries.find((e) => e.session === session);
      expect(first?.case).toBe("greeting");
      const greeting = first?.recv[0] as { QMP?: { capabilities?: unknown } } | undefined;
      expect(greeting?.QMP?.capabilities).toEqual(["oob"]);
    }
  });

  test("every case received something, and only quit saw the socket close", () => {
    for (const e of entries) {
      expect({ case: e.case, received: e.recv.length > 0 }).toEqual({ case: e.case, received: true });
      if (e.closed) expect(e.case).toBe("quit");
    }
    expect(entries.filter((e) => e.case === "quit" && e.closed)).toHaveLength(2);
  });

  test("quit: SHUTDOWN arrives before the return", () => {
    const quit = entries.find((e) => e.case === "quit");
    expect(quit?.recv.map((m) => ("event" in m ? m.event : "return" in m ? "return" : "?"))).toEqual([
      "SHUTDOWN",
      "return",
    ]);
  });

  test("every error has a class and a desc", () => {
    for (const e of entries) {
      for (const m of e.recv) {
        if (!("error" in m)) continue;
        const err = m.error as { class?: unknown; desc?: unknown };
        expect(typeof err.class).toBe("string");
        expect(typeof err.desc).toBe("string");
      }
    }
  });
});
