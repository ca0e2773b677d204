/**
 * @qmpkit/qmp/qapi — QEMU's QAPI schema as data: parse and index `query-qmp-schema`, validate arguments against
 * it, diff two schemas, generate TypeScript types. The client uses it for `validate: true`; most callers need
 * only the generated types (`@qmpkit/qmp/qapi/qemu-7.2`, `@qmpkit/qmp/qapi/qemu-10.0`).
 *
 * @example
 * import { indexSchema, parseSchema, validateArguments } from "@qmpkit/qmp/qapi";
 * const index = indexSchema(parseSchema(await Bun.file("schema.json").text()));
 *
 * @module
 */

export type { EntriesDiff, EntryDiff, SchemaChange, SchemaChangeKind, SchemaDiff } from "./diff.ts";
export { describeChange, diffSchemas, formatSchemaDiff } from "./diff.ts";
export type { GenerateOptions } from "./generate.ts";
export { generateTypes } from "./generate.ts";
export type { SchemaEntry, SchemaIndex, TypeEntry } from "./schema.ts";
export {
  enumValues,
  indexSchema,
  isOptional,
  lookupType,
  OPEN_ARGUMENT_COMMANDS,
  parseSchema,
  QAPISchemaError,
} from "./schema.ts";
export type { ValidationProblem, ValidationProblemKind } from "./validate.ts";
export { formatValidationProblems, validateArguments, validateValue } from "./validate.ts";
