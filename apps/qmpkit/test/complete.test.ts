import { describe, expect, test } from "bun:test";
import { complete, completionSourceFromCommands, completionSourceFromSchema } from "../src/shell/complete.ts";
import { initialShellState } from "../src/shell/parse.ts";
import { qemuSchema, tinySchema } from "./schema-fixture.ts";

const tiny = completionSourceFromSchema(tinySchema);

describe("command names", () => {
  test("complete the first word", () => {
    expect(complete(tiny, "no")).toEqual([["node-add"], "no"]);
    expect(complete(tiny, "  p")).toEqual([["ping"], "p"]);
    expect(complete(tiny, "")).toEqual([["deep", "list-things", "node-add", "ping"], ""]);
  });

  test("offer transaction( when the server has transaction", async () => {
    const source = completionSourceFromSchema(await qemuSchema());
    expect(complete(source, "transa")).toEqual([["transaction", "transaction("], "transa"]);
  });

  test("from a plain command list", () => {
    const source = completionSourceFromCommands(["stop", "cont", "query-status"]);
    expect(complete(source, "")).toEqual([["cont", "query-status", "stop"], ""]);
    expect(complete(source, "stop ")).toEqual([[], ""]);
  });
});

describe("argument names", () => {
  test("after a space, in schema order, with '='", () => {
    expect(complete(tiny, "node-add ")).toEqual([["driver=", "name="], ""]);
    expect(complete(tiny, "node-add na")).toEqual([["name="], "na"]);
  });

  test("leave out keys already typed, including dotted ones", () => {
    expect(complete(tiny, "node-add name=x ")).toEqual([["driver="], ""]);
    expect(complete(tiny, "node-add name.sub=1 ")).toEqual([["driver="], ""]);
  });

  test("add a union's variant members once its tag is typed", () => {
    expect(complete(tiny, "node-add driver=file ")).toEqual([["name=", "filename=", "size="], ""]);
    expect(complete(tiny, "node-add driver=wrap i")).toEqual([["inner="], "i"]);
  });

  test("nothing for free-form values, quotes, raw JSON and unknown commands", () => {
    expect(complete(tiny, "node-add name=fi")).toEqual([[], "name=fi"]);
    // driver is an enum in the tiny schema: its members are offered (see "argument values").
    expect(complete(tiny, "node-add driver=fi")).toEqual([["driver=file"], "driver=fi"]);
    expect(complete(tiny, "node-add name='a b")).toEqual([[], ""]);
    expect(complete(tiny, "node-add 'na")).toEqual([[], ""]);
    expect(complete(tiny, '{"execute": "')).toEqual([[], ""]);
    expect(complete(tiny, "nosuch ")).toEqual([[], ""]);
  });

  test("a quoted value with spaces counts as one word", () => {
    expect(complete(tiny, "node-add name='a b' ")).toEqual([["driver="], ""]);
  });
});

describe("transactions (QEMU 7.2 schema)", () => {
  test("action names after transaction( and after a comma", async () => {
    const source = completionSourceFromSchema(await qemuSchema());
    expect(complete(source, "transaction( blockdev-snap")).toEqual([
      ["blockdev-snapshot", "blockdev-snapshot-internal-sync", "blockdev-snapshot-sync"],
      "blockdev-snap",
    ]);
    expect(complete(source, "transaction( abort, ab")).toEqual([["abort"], "ab"]);
  });

  test("an action's data members", async () => {
    const source = completionSourceFromSchema(await qemuSchema());
    expect(complete(source, "transaction( block-dirty-bitmap-add node=d0 ")).toEqual([
      ["name=", "granularity=", "persistent=", "disabled="],
      "",
    ]);
  });

  test("inside an open block the first word is an action, or ')'", async () => {
    const source = completionSourceFromSchema(await qemuSchema());
    const state = { transaction: { actions: [] } };
    expect(complete(source, "ab", state)).toEqual([["abort"], "ab"]);
    expect(complete(source, ")", state)).toEqual([[")"], ")"]);
    expect(complete(source, "ab", initialShellState)).toEqual([[], "ab"]);
  });

  test("nothing after ')'", async () => {
    const source = completionSourceFromSchema(await qemuSchema());
    expect(complete(source, "transaction( abort ) ")).toEqual([[], ""]);
  });
});

describe("argument values", () => {
  test("an enum argument's members after 'key=', as whole words", async () => {
    const source = completionSourceFromSchema(await qemuSchema());
    const [drivers, word] = complete(source, "blockdev-add driver=nu");
    expect(word).toBe("driver=nu");
    expect(drivers).toEqual(expect.arrayContaining(["driver=null-aio", "driver=null-co"]));
    expect(drivers.every((d) => d.startsWith("driver=nu"))).toBe(true);
    expect(complete(source, "object-add qom-type=iothrea")[0]).toEqual(["qom-type=iothread"]);
    expect(complete(source, "drive-backup sync=")[0]).toEqual(
      expect.arrayContaining(["sync=full", "sync=top", "sync=none", "sync=incremental"]),
    );
    expect(complete(source, "block-job-pause id=")[0]).toEqual([]);
  });

  test("a boolean argument offers false and true", async () => {
    const source = completionSourceFromSchema(await qemuSchema());
    expect(complete(source, "block-dirty-bitmap-add persistent=")[0]).toEqual([
      "persistent=false",
      "persistent=true",
    ]);
  });
});
