/**
 * The QAPI schema that commands are validated against: one the caller fixed (`validateWith`), or the live one,
 * fetched with `query-qmp-schema` on first use in each session and shared by every command after it.
 *
 * @module
 */

import { QMPValidationError } from "./errors.ts";
import { isObject } from "./messages.ts";
import { indexSchema, parseSchema, type SchemaEntry, type SchemaIndex } from "./qapi/schema.ts";
import { formatValidationProblems, validateArguments } from "./qapi/validate.ts";

/** A client has one once it validates: made by the `validate` option or the first `validateWith()`. */
export class SchemaCache {
  #fixed: SchemaIndex | undefined;
  #session: Promise<SchemaIndex> | undefined;

  /** Validates against `schema` from now on, instead of the live schema. */
  fix(schema: readonly SchemaEntry[] | SchemaIndex | unknown): void {
    const index = isSchemaIndex(schema) ? schema : indexSchema(parseSchema(schema));
    this.#fixed = index;
    this.#session = Promise.resolve(index);
  }

  /** The session ended: a live schema is fetched again in the next one (QEMU may have been upgraded). */
  forgetSession(): void {
    if (this.#fixed === undefined) this.#session = undefined;
  }

  /**
   * Rejects with {@link QMPValidationError} when `args` do not fit `command`. The first call of a session fetches
   * the schema with `fetch`; a failed fetch is not cached, so the next command tries again.
   */
  async check(
    command: string,
    args: Record<string, unknown> | undefined,
    fetch: () => Promise<unknown>,
  ): Promise<void> {
    if (this.#session === undefined) {
      const loading = fetch().then((value) => indexSchema(parseSchema(value)));
      this.#session = loading;
      loading.catch(() => {
        if (this.#session === loading) this.#session = undefined;
      });
    }
    const problems = validateArguments(await this.#session, command, args);
    if (problems.length > 0) {
      throw new QMPValidationError(formatValidationProblems(command, problems), command, problems);
    }
  }
}

function isSchemaIndex(value: unknown): value is SchemaIndex {
  return isObject(value) && value.entries instanceof Map && value.commands instanceof Map;
}
