/** A `--script` for cli.test.ts: adds one command and overrides one built-in. */
import type { FakeQemu } from "../src/index.ts";

export default function script(fake: FakeQemu): void {
  fake.handle("x-hello", (args) => ({ hello: args.name ?? "world" }));
  fake.handle("query-name", () => ({ name: "from-script" }));
}
