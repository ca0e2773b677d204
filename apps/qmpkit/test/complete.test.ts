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

describe("nested keys", () => {
  test("'key.' offers the members of the nested object, with the full prefix", async () => {
    const source = completionSourceFromSchema(await qemuSchema());
    expect(complete(source, "blockdev-add driver=qcow2 cache.")).toEqual([
      ["cache.direct=", "cache.no-flush="],
      "cache.",
    ]);
    expect(complete(source, "blockdev-add driver=qcow2 cache.di")).toEqual([["cache.direct="], "cache.di"]);
    expect(complete(source, "blockdev-add driver=qcow2 cache.direct=true cache.")).toEqual([
      ["cache.no-flush="],
      "cache.",
    ]);
  });

  test("values of dotted keys, and a nested union's variant once its tag is typed", async () => {
    const source = completionSourceFromSchema(await qemuSchema());
    expect(complete(source, "blockdev-add driver=qcow2 cache.direct=")[0]).toEqual([
      "cache.direct=false",
      "cache.direct=true",
    ]);
    // file is a BlockdevRef (an alternate): its object branch, BlockdevOptions, a union on driver.
    expect(complete(source, "blockdev-add driver=qcow2 file.driver=fi")[0]).toEqual(["file.driver=file"]);
    expect(complete(source, "blockdev-add driver=qcow2 file.driver=file file.filen")[0]).toEqual([
      "file.filename=",
    ]);
    expect(complete(source, "blockdev-add driver=qcow2 file.filen")[0]).toEqual([]);
  });

  test("several levels deep; nothing under a scalar", () => {
    expect(complete(tiny, "deep a.")).toEqual([["a.b="], "a."]);
    expect(complete(tiny, "deep a.b.")).toEqual([["a.b.c="], "a.b."]);
    expect(complete(tiny, "deep a.b.c.")).toEqual([[], "a.b.c."]);
    expect(complete(tiny, "node-add driver=wrap inner.driver=file inner.")).toEqual([
      ["inner.name=", "inner.filename=", "inner.size="],
      "inner.",
    ]);
  });
});
