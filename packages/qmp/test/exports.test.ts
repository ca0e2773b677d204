// Pins the package's runtime surface so it cannot drift by accident: other packages and users code against it.

import { expect, test } from "bun:test";
import * as qmp from "../src/index.ts";

test("@qmpkit/qmp exports exactly these runtime names", () => {
  const expected = [
    // client
    "connect",
    "DEFAULT_GREETING_TIMEOUT_MS",
    "DEFAULT_NEGOTIATION_TIMEOUT_MS",
    "QMPClient",
    "RESERVED_ID_PREFIX",
    // events
    "DEFAULT_HIGH_WATER_MARK",
    "EventListener",
    // errors
    "BadReplyError",
    "EventOverflowError",
    "ExecInterruptedError",
    "ExecuteError",
    "FdPassingError",
    "GreetingError",
    "ListenerClosedError",
    "NegotiationError",
    "QMPValidationError",
    "ServerParseError",
    "UsageError",
    // protocol-core, re-exported
    "ConnectError",
    "ConnectionClosedError",
    "FrameTooLargeError",
    "ProtocolError",
    "QMPError",
    "Runstate",
    "StateError",
    "TimeoutError",
    // QAPI
    "formatValidationProblems",
    "generateTypes",
    "indexSchema",
    "lookupType",
    "parseSchema",
    "QAPISchemaError",
    "validateArguments",
    "validateValue",
  ];
  // Names another engineer appends under the `// QGA` block of index.ts are theirs to pin.
  const ours = Object.keys(qmp).filter((name) => expected.includes(name) || !/^Qga|QGA|qga/i.test(name));
  expect(ours.sort()).toEqual([...expected].sort());
});
