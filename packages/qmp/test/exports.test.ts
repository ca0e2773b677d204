// Pins the package's runtime surface so it cannot drift by accident: other packages and users code against it.

import { expect, test } from "bun:test";
import { join } from "node:path";
import * as qmp from "../src/index.ts";

test("@qmpkit/qmp exports exactly these runtime names", async () => {
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
    "BackpressureError",
    "ConnectError",
    "ConnectionClosedError",
    "FrameTooLargeError",
    "ListenerBusyError",
    "ProtocolError",
    "QMPError",
    "Runstate",
    "StateError",
    "TimeoutError",
    // QAPI
    "describeChange",
    "diffSchemas",
    "formatSchemaDiff",
    "formatValidationProblems",
    "generateTypes",
    "enumValues",
    "indexSchema",
    "isOptional",
    "lookupType",
    "OPEN_ARGUMENT_COMMANDS",
    "parseSchema",
    "QAPISchemaError",
    "validateArguments",
    "validateValue",
  ];
  // The `// QGA` block at the end of index.ts belongs to the guest-agent client, which pins its own names.
  const source = await Bun.file(join(import.meta.dir, "../src/index.ts")).text();
  const marker = source.indexOf("// QGA");
  const qgaNames = new Set(marker === -1 ? [] : (source.slice(marker).match(/\b[A-Za-z_$][\w$]*\b/g) ?? []));
  const ours = Object.keys(qmp).filter((name) => expected.includes(name) || !qgaNames.has(name));
  expect(ours.sort()).toEqual([...expected].sort());
});
