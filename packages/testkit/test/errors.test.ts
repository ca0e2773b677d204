/** Every testkit error class: name, stable code, message, QMPError brand, cause passed through. */
import { describe, expect, test } from "bun:test";
import { QMPError } from "@qmpkit/protocol-core";
import { FakeQemuError, QMPCommandError, SpawnQemuError, TranscriptError } from "../src/index.ts";

const cause = new Error("root");
const rows: [Error, string, string, string][] = [
  [
    new QMPCommandError("DeviceNotFound", "Device 'x' not found", { cause }),
    "QMPCommandError",
    "QMP_ERR_FAKE_COMMAND",
    "Device 'x' not found",
  ],
  [new FakeQemuError("Cannot listen", { cause }), "FakeQemuError", "QMP_ERR_FAKE", "Cannot listen"],
  [
    new SpawnQemuError("QEMU exited", { stderr: "bad option\n", exitCode: 1, cause }),
    "SpawnQemuError",
    "QMP_ERR_SPAWN_QEMU",
    "QEMU exited\nQEMU stderr:\nbad option",
  ],
  [
    new TranscriptError("not a transcript", { cause }),
    "TranscriptError",
    "QMP_ERR_TRANSCRIPT",
    "not a transcript",
  ],
];

describe("errors", () => {
  for (const [error, name, code, message] of rows) {
    test(`${name}: name, code ${code}, message, QMPError brand, cause`, () => {
      expect(error.name).toBe(name);
      expect((error as QMPError).code).toBe(code);
      expect(error.message).toBe(message);
      expect(error).toBeInstanceOf(QMPError);
      expect(error.cause).toBe(cause);
    });
  }

  test("QMPCommandError keeps class and desc; SpawnQemuError keeps stderr and exit code", () => {
    const command = new QMPCommandError("GenericError", "nope");
    expect([command.errorClass, command.desc]).toEqual(["GenericError", "nope"]);
    const spawn = new SpawnQemuError("x", { stderr: "e", exitCode: 3 });
    expect([spawn.stderr, spawn.exitCode]).toEqual(["e", 3]);
    expect(new SpawnQemuError("no stderr").message).toBe("no stderr");
  });
});
