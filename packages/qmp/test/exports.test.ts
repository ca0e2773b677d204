// Pins the package's runtime surface so it cannot drift by accident: other packages and users code against it.

import { expect, test } from "bun:test";
import { join } from "node:path";
import * as qmp from "../src/index.ts";
import * as qapi from "../src/qapi/index.ts";

test("@qmpkit/qmp exports exactly these runtime names: the client, its events, messages and errors", () => {
  const expected = [
    // client
    "connect",
    "DEFAULT_GREETING_TIMEOUT_MS",
    "DEFAULT_NEGOTIATION_TIMEOUT_MS",
    "QMPClient",
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
  ];
  expect(Object.keys(qmp).sort()).toEqual([...expected].sort());
});

test("@qmpkit/qmp/qapi exports exactly the generator, the schema model and the validator", () => {
  expect(Object.keys(qapi).sort()).toEqual(
    [
      "describeChange",
      "diffSchemas",
      "formatSchemaDiff",
      "generateTypes",
      "enumValues",
      "indexSchema",
      "isOptional",
      "lookupType",
      "OPEN_ARGUMENT_COMMANDS",
      "parseSchema",
      "QAPISchemaError",
      "formatValidationProblems",
      "validateArguments",
      "validateValue",
    ].sort(),
  );
});

test("package.json maps each subpath to its entry, and each entry exists", async () => {
  const manifest = await Bun.file(join(import.meta.dir, "../package.json")).json();
  const entries = {
    ".": "./src/index.ts",
    "./qga": "./src/qga/index.ts",
    "./qapi": "./src/qapi/index.ts",
    "./qapi/qemu-7.2": "./src/qapi/qemu-7.2.ts",
    "./qapi/qemu-10.0": "./src/qapi/qemu-10.0.ts",
  };
  expect(manifest.exports).toEqual(
    Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, { types: v, default: v }])),
  );
  for (const file of Object.values(entries)) {
    expect(await Bun.file(join(import.meta.dir, "..", file)).exists()).toBe(true);
  }
});
