// Every error class @qmpkit/qmp throws: name, stable code, message, base classes (table-driven).

import { describe, expect, test } from "bun:test";
import {
  BadReplyError,
  ConnectError,
  ConnectionClosedError,
  EventOverflowError,
  ExecInterruptedError,
  ExecuteError,
  FdPassingError,
  GreetingError,
  ListenerClosedError,
  NegotiationError,
  ProtocolError,
  QMPError,
  QMPValidationError,
  ServerParseError,
  StateError,
  TimeoutError,
  UsageError,
} from "../src/index.ts";
import { QAPISchemaError } from "../src/qapi/index.ts";

const sent = { execute: "change-vnc-password", arguments: { password: "hunter2" }, id: "i1" };
const reply = { error: { class: "GenericError", desc: "Could not set password" }, id: "i1" };

const rows: [string, Error, string, string, (new (...args: never[]) => Error)[]][] = [
  [
    "ExecuteError",
    new ExecuteError(reply, reply.error, sent),
    "QMP_ERR_EXECUTE",
    "Could not set password",
    [QMPError],
  ],
  [
    "ExecInterruptedError",
    new ExecInterruptedError("query-status", { cause: new ConnectionClosedError() }),
    "QMP_ERR_INTERRUPTED",
    'Command "query-status" was interrupted: the session ended before its reply arrived: Connection closed by peer',
    [QMPError],
  ],
  [
    "GreetingError",
    new GreetingError("bad greeting"),
    "QMP_ERR_GREETING",
    "bad greeting",
    [ProtocolError, QMPError],
  ],
  [
    "NegotiationError",
    new NegotiationError("refused"),
    "QMP_ERR_NEGOTIATION",
    "refused",
    [ProtocolError, QMPError],
  ],
  [
    "BadReplyError",
    new BadReplyError("odd", { id: "i1" }, sent),
    "QMP_ERR_BAD_REPLY",
    "odd",
    [ProtocolError],
  ],
  [
    "ServerParseError",
    new ServerParseError("unparsable", reply),
    "QMP_ERR_SERVER_PARSE",
    "unparsable",
    [ProtocolError],
  ],
  [
    "QMPValidationError",
    new QMPValidationError("bad args", "x", []),
    "QMP_ERR_VALIDATION",
    "bad args",
    [QMPError],
  ],
  [
    "EventOverflowError",
    new EventOverflowError(8, 3),
    "QMP_ERR_EVENT_OVERFLOW",
    "Event listener overflowed its buffer of 8; 3 event(s) dropped so far",
    [QMPError],
  ],
  [
    "ListenerClosedError",
    new ListenerClosedError(),
    "QMP_ERR_LISTENER_CLOSED",
    "The event listener was closed",
    [QMPError],
  ],
  ["UsageError", new UsageError("no", "QMP_ERR_DUPLICATE_ID"), "QMP_ERR_DUPLICATE_ID", "no", [QMPError]],
  ["FdPassingError", new FdPassingError("no fd"), "QMP_ERR_SEND_FD", "no fd", [QMPError]],
  ["QAPISchemaError", new QAPISchemaError("bad schema"), "QMP_ERR_SCHEMA", "bad schema", [QMPError]],
];

describe("error classes", () => {
  test.each(rows)("%s has its name, code, message and base classes", (name, error, code, message, bases) => {
    expect(error.name).toBe(name);
    expect((error as QMPError).code).toBe(code);
    expect(error.message).toBe(message);
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(QMPError);
    for (const base of bases) expect(error).toBeInstanceOf(base);
  });

  test("ExecuteError keeps class, desc, reply and id, and hides the arguments from enumeration", () => {
    const error = new ExecuteError(reply, reply.error, sent);
    expect(error.errorClass).toBe("GenericError");
    expect(error.desc).toBe("Could not set password");
    expect(error.reply).toBe(reply);
    expect(error.id).toBe("i1");
    expect(error.command.arguments).toEqual({ password: "hunter2" });
    expect(JSON.stringify(error.command)).toBe('{"execute":"change-vnc-password","id":"i1"}');
    expect(Bun.inspect(error.command)).not.toContain("hunter2");
  });

  test("protocol-core's errors are re-exported from the same entry point", () => {
    for (const cls of [ConnectError, ConnectionClosedError, ProtocolError, StateError, TimeoutError]) {
      expect(cls.prototype).toBeInstanceOf(Error);
    }
    expect(new TimeoutError("t").code).toBe("QMP_ERR_TIMEOUT");
  });
});
