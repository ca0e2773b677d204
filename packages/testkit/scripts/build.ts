/**
 * Builds what this package ships besides its source: the declaration files in `dist/types/` that a consumer's
 * `tsc` reads (see scripts/lib/build-types.ts for why). `bun run pack` at the root runs it before packing.
 *
 *   bun packages/testkit/scripts/build.ts
 */
import { join } from "node:path";
import { buildTypesMain } from "../../../scripts/lib/build-types.ts";

await buildTypesMain(join(import.meta.dir, ".."));
