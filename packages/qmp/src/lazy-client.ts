/**
 * What a client needs only when it is asked for: events (the hub and its listeners), connect retry, fd passing and
 * argument validation. `client.ts` requires this module on the first use of any of them, and `bun build
 * --splitting` makes it one chunk loaded then: a one-shot command that sees no event, retries nothing and does not
 * validate (the CLI's `exec`) does not evaluate their classes and functions. One module rather than one each: every
 * chunk costs a load, and these are rarely wanted apart.
 */
export { connectWithRetry } from "./connect-retry.ts";
export { EventHub } from "./event-hub.ts";
export { EventListener } from "./events.ts";
export { FdPassingError, sendFdOverSocket } from "./fd-passing.ts";
export { SchemaCache } from "./schema-cache.ts";
