import { describe, expect, test } from "bun:test";
import {
  ConnectError,
  ConnectionClosedError,
  FrameTooLargeError,
  ListenerBusyError,
  ProtocolError,
  QMPError,
  Runstate,
  StateError,
  TimeoutError,
} from "../src/index.ts";

const rootCause = Object.assign(new Error("Failed to connect"), { code: "ENOENT" });

const rows: {
  error: QMPError;
  name: string;
  code: string;
  message: string;
  parent: abstract new (...args: never[]) => Error;
}[] = [
  { error: new QMPError("base"), name: "QMPError", code: "QMP_ERR", message: "base", parent: Error },
  {
    error: new ConnectError("Failed to establish connection", rootCause),
    name: "ConnectError",
    code: "ENOENT",
    message: "Failed to establish connection: ENOENT: Failed to connect",
    parent: QMPError,
  },
  {
    error: new ConnectError("Failed to establish session", new QMPError("no greeting")),
    name: "ConnectError",
    code: "QMP_ERR",
    message: "Failed to establish session: QMPError: no greeting",
    parent: QMPError,
  },
  {
    error: new ListenerBusyError("/run/qmp.sock", 499.6),
    name: "ListenerBusyError",
    code: "QMP_ERR_BUSY",
    message:
      "/run/qmp.sock refused every connection for 500 ms: the monitor is busy (QEMU serves one client at a time)",
    parent: QMPError,
  },
  {
    error: new StateError("X is currently connecting.", Runstate.CONNECTING, Runstate.IDLE),
    name: "StateError",
    code: "QMP_ERR_STATE",
    message: "X is currently connecting.",
    parent: QMPError,
  },
  {
    error: new ProtocolError("bad"),
    name: "ProtocolError",
    code: "QMP_ERR_PROTOCOL",
    message: "bad",
    parent: QMPError,
  },
  {
    error: new FrameTooLargeError(10),
    name: "FrameTooLargeError",
    code: "QMP_ERR_FRAME_TOO_LARGE",
    message: "Inbound message exceeds the limit of 10 bytes (maxMessageBytes)",
    parent: ProtocolError,
  },
  {
    error: new ConnectionClosedError(),
    name: "ConnectionClosedError",
    code: "QMP_ERR_CLOSED",
    message: "Connection closed by peer",
    parent: QMPError,
  },
  {
    error: new TimeoutError("late", "QMP_ERR_CONNECT_TIMEOUT"),
    name: "TimeoutError",
    code: "QMP_ERR_CONNECT_TIMEOUT",
    message: "late",
    parent: QMPError,
  },
];

describe("errors", () => {
  for (const row of rows) {
    test(`${row.name} (${row.code}) has its name, code, message and ancestry`, () => {
      expect(row.error.name).toBe(row.name);
      expect(row.error.code).toBe(row.code);
      expect(row.error.message).toBe(row.message);
      expect(row.error).toBeInstanceOf(row.parent);
      expect(row.error).toBeInstanceOf(QMPError);
      expect(row.error).toBeInstanceOf(Error);
      expect(row.error.stack).not.toContain("new QMPError");
    });
  }

  test("ConnectError keeps the root error as cause and its bare message", () => {
    const error = new ConnectError("Failed to establish connection", rootCause);
    expect(error.cause).toBe(rootCause);
    expect(error.errorMessage).toBe("Failed to establish connection");
  });

  test("instanceof QMPError holds for an error branded by another copy of the package", () => {
    const foreign = new (class extends Error {
      get [Symbol.for("qmpkit.error")]() {
        return true;
      }
    })("from a second copy");
    expect(foreign).toBeInstanceOf(QMPError);
    expect(new Error("plain")).not.toBeInstanceOf(QMPError);
    expect(new QMPError("x")).not.toBeInstanceOf(StateError);
  });
});
