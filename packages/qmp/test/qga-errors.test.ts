import { expect, test } from "bun:test";
import { QMPError, TimeoutError } from "@qmpkit/protocol-core";
import {
  QGAError,
  QGAExecTimeoutError,
  QGAInterruptedError,
  QGASyncError,
  QGATimeoutError,
  QGAVsockUnsupportedError,
} from "../src/qga/errors.ts";

const rows: {
  error: QMPError;
  name: string;
  code: string;
  message: RegExp;
  parent: abstract new (...args: never[]) => Error;
}[] = [
  {
    error: new QGAError(
      "guest-file-open",
      "GenericError",
      "failed to open file",
      { error: {} },
      { path: "/x" },
    ),
    name: "QGAError",
    code: "QMP_ERR_QGA",
    message: /^guest-file-open: GenericError: failed to open file$/,
    parent: QMPError,
  },
  {
    error: new QGATimeoutError("guest-ping", 50),
    name: "QGATimeoutError",
    code: "QMP_ERR_QGA_TIMEOUT",
    message: /^guest-ping: no reply from the guest agent within 50 ms$/,
    parent: TimeoutError,
  },
  {
    error: new QGAExecTimeoutError("/bin/sleep", 42, 100),
    name: "QGAExecTimeoutError",
    code: "QMP_ERR_QGA_EXEC_TIMEOUT",
    message: /^guest-exec \/bin\/sleep: process 42 did not exit within 100 ms/,
    parent: QGATimeoutError,
  },
  {
    error: new QGASyncError(7, 10),
    name: "QGASyncError",
    code: "QMP_ERR_QGA_SYNC",
    message: /guest-sync-delimited \(id 7\) within 10 ms/,
    parent: TimeoutError,
  },
  {
    error: new QGAInterruptedError("guest-info"),
    name: "QGAInterruptedError",
    code: "QMP_ERR_QGA_INTERRUPTED",
    message: /^guest-info: the guest agent session ended/,
    parent: QMPError,
  },
  {
    error: new QGAVsockUnsupportedError("vsock:3:1234"),
    name: "QGAVsockUnsupportedError",
    code: "QMP_ERR_QGA_VSOCK",
    message: /vsock is not supported \(Bun.connect has no AF_VSOCK\)/,
    parent: QMPError,
  },
];

test.each(rows)("$name: name, code, message, class chain", ({ error, name, code, message, parent }) => {
  expect(error.name).toBe(name);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
  expect(error).toBeInstanceOf(parent);
  expect(error).toBeInstanceOf(QMPError);
});

test("QGAError keeps the arguments out of enumeration (file data, passwords) but reachable", () => {
  const error = new QGAError("guest-set-user-password", "GenericError", "no", {}, { password: "hunter2" });
  expect(Object.keys(error)).not.toContain("arguments");
  expect(JSON.stringify(error)).not.toContain("hunter2");
  expect(error.arguments).toEqual({ password: "hunter2" });
});

test("QGAInterruptedError passes the session's error through as cause", () => {
  const cause = new Error("reset");
  expect(new QGAInterruptedError("guest-ping", { cause }).cause).toBe(cause);
});
