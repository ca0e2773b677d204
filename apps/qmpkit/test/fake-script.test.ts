import { describe, expect, test } from "bun:test";
import { parseFakeScript } from "../src/fake-script.ts";

describe("qmpkit fake --script", () => {
  test("reads options, replies, errors, events and reply lists", () => {
    const script = parseFakeScript(
      JSON.stringify({
        status: "paused",
        commands: {
          "query-name": { return: { name: "vm1" } },
          device_del: { error: { class: "DeviceNotFound", desc: "Device 'nic0' not found" } },
          system_powerdown: { events: [{ event: "POWERDOWN" }] },
          "query-jobs": [{ return: [{ id: "j1" }] }, { return: [] }],
        },
      }),
      "s.json",
    );
    expect(script.status).toBe("paused");
    expect(script.commands.get("query-name")).toEqual([{ events: [], return: { name: "vm1" } }]);
    expect(script.commands.get("device_del")?.[0]?.error).toEqual({
      class: "DeviceNotFound",
      desc: "Device 'nic0' not found",
    });
    expect(script.commands.get("system_powerdown")).toEqual([{ events: [{ event: "POWERDOWN" }] }]);
    expect(script.commands.get("query-jobs")?.length).toBe(2);
  });

  test.each([
    ["{", /^script 's.json' is not JSON: /],
    ["[]", /^script 's.json': the top level must be an object$/],
    ['{"comands": {}}', /^script 's.json': key 'comands' is unknown \(status, commands\)$/],
    ['{"status": 1}', /^script 's.json': 'status' must be a string$/],
    ['{"commands": []}', /^script 's.json': 'commands' must be an object keyed by command name$/],
    [
      '{"commands": {"x": 1}}',
      /^script 's.json': commands.x must be an object with 'return', 'error' or 'events'$/,
    ],
    ['{"commands": {"x": []}}', /^script 's.json': commands.x is an empty list$/],
    [
      '{"commands": {"x": {"retrun": 1}}}',
      /^script 's.json': commands.x.retrun is unknown \(return, error, events\)$/,
    ],
    [
      '{"commands": {"x": {"return": 1, "error": {}}}}',
      /^script 's.json': commands.x has both 'return' and 'error'$/,
    ],
    [
      '{"commands": {"x": [{}, {"error": {"class": 1}}]}}',
      /^script 's.json': commands.x\[1\].error must be /,
    ],
    [
      '{"commands": {"x": {"events": [{"name": "STOP"}]}}}',
      /^script 's.json': commands.x.events\[0\] must be /,
    ],
  ])("%s is refused with a message that says where", (text, message) => {
    expect(() => parseFakeScript(text, "s.json")).toThrow(message);
  });
});
