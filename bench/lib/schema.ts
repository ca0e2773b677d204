import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeQemuJson } from "../../packages/testkit/src/index.ts";
import { BIN_DIR, notice, progress, ROOT_DIR } from "./env.ts";

/** The recorded QEMU 7.2 schema (the `return` of `query-qmp-schema`, 1051 entries). */
export const SCHEMA_FIXTURE = join(ROOT_DIR, "packages", "testkit", "fixtures", "qemu-7.2-schema.json");
const PLACEHOLDER = join(BIN_DIR, "schema-placeholder.json");

/** A deterministic stand-in of QEMU 7.2's shape and entry count, for a checkout without the fixture. */
function synthesize(): string {
  const entries: unknown[] = [];
  for (let i = 0; entries.length < 1051; i++) {
    switch (i % 4) {
      case 0:
        entries.push({
          name: `query-thing-${i}`,
          "ret-type": String(i + 1),
          "meta-type": "command",
          "arg-type": "0",
        });
        break;
      case 1:
        entries.push({ name: `THING_EVENT_${i}`, "meta-type": "event", "arg-type": String(i + 2) });
        break;
      case 2:
        entries.push({
          name: String(i),
          members: [
            { name: "device-id", type: "str" },
            { name: "enabled", type: "bool" },
            { name: "size-in-bytes", default: null, type: "int" },
          ],
          "meta-type": "object",
        });
        break;
      default:
        entries.push({ name: String(i), "meta-type": "enum", values: ["off", "on", "auto", "unknown"] });
    }
  }
  return JSON.stringify(entries);
}

/**
 * The schema file the servers answer `query-qmp-schema` with: the recorded
 * fixture, or a synthetic placeholder when this checkout lacks it. (The C
 * server re-spaces either the way QEMU does, ~207 KB for the fixture.)
 */
export async function resolveSchema(): Promise<string> {
  if (existsSync(SCHEMA_FIXTURE)) {
    progress(`schema: ${SCHEMA_FIXTURE}`);
    return SCHEMA_FIXTURE;
  }
  await mkdir(BIN_DIR, { recursive: true });
  await writeFile(PLACEHOLDER, `${synthesize()}\n`);
  notice(`${SCHEMA_FIXTURE} missing: workload 4 uses a synthetic placeholder schema of a different size`);
  return PLACEHOLDER;
}

/** A schema file's JSON as QEMU (and the servers here) put it on the wire: one line, `": "` and `", "`. */
export function qemuSpaced(fileText: string): string {
  return encodeQemuJson(JSON.parse(fileText));
}
