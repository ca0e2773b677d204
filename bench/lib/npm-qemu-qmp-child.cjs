// npm `qemu-qmp` 0.5.0 as a bench contender. It runs under Node, as its users run it: Bun 1.4.4 refuses to load
// it (the library names a parameter `arguments`). Like the raw C client it times itself and prints one JSON line:
// {"mode","n","ns","ops"}, where ns covers the measured part only and ops counts what completed in it.
// Usage: node npm-qemu-qmp-child.cjs SOCKET_PATH connect|seq|pipe|schema|events N [LISTENERS]
//
// Before the clock starts, the same work at a tenth of the size runs untimed, so Node's JIT is as warm as the
// in-process Bun contenders are after the harness's warm-up run.
const QMP = require("qemu-qmp");

const [path, mode, nText, listenersText] = process.argv.slice(2);
const n = Number(nText);
const listenerCount = Number(listenersText ?? "1");
// The harness gives up on a run after 120 s; a child left behind would hold QEMU's only monitor slot.
const DEADLINE_MS = 115_000;

function fail(error) {
  process.stderr.write(
    `npm qemu-qmp ${mode} ${n}: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
}

/**
 * Connect and negotiate. The library calls back as soon as it has sent `qmp_capabilities`, with that command's
 * reply still due (it matches replies first in, first out, and negotiation has no callback). Nothing else is
 * outstanding and QEMU sends no event before the session is in command mode, so the next bytes to arrive are
 * that reply: the session is usable, as the other contenders' sessions are, once they are in.
 */
function session() {
  return new Promise((resolve, reject) => {
    const qmp = new QMP();
    qmp.connect(path, (error) => {
      if (error) return reject(error);
      qmp.once("data", () => resolve(qmp));
    });
  });
}

/** Close as the raw C client does: drop the connection, and wait until the socket is really closed. */
function close(qmp) {
  return new Promise((resolve) => {
    qmp.once("close", () => resolve());
    qmp.destroy();
  });
}

function execute(qmp, command, args) {
  return new Promise((resolve, reject) => {
    const done = (error, result) => (error ? reject(error) : resolve(result));
    if (args === undefined) qmp.execute(command, done);
    else qmp.execute(command, args, done);
  });
}

async function connects(count) {
  for (let i = 0; i < count; i++) await close(await session());
}

async function sequential(qmp, command, count) {
  for (let i = 0; i < count; i++) {
    const result = await execute(qmp, command);
    if (result === undefined) throw new Error(`${command} returned nothing`);
  }
}

async function pipelined(qmp, count) {
  const replies = new Array(count);
  for (let i = 0; i < count; i++) replies[i] = execute(qmp, "query-status");
  const results = await Promise.all(replies);
  if (results.some((r) => r === undefined || typeof r.status !== "string"))
    throw new Error("a reply was lost");
}

/**
 * `bench-events {"count"}`: the library emits every QMP event on the socket object under its lower-cased name,
 * with the QMP name as the argument; `listeners` listeners each count them. Done when every listener has seen all
 * `count` and the command has returned (it returns after its events, so its callback is last).
 */
async function events(qmp, count, listeners) {
  const seen = new Array(listeners).fill(0);
  const handlers = seen.map((_, i) => (name) => {
    if (name === "BENCH") seen[i]++;
  });
  for (const h of handlers) qmp.on("bench", h);
  await execute(qmp, "bench-events", { count });
  for (const h of handlers) qmp.removeListener("bench", h);
  const short = seen.find((s) => s !== count);
  if (short !== undefined) throw new Error(`a listener saw ${short} of ${count} events`);
}

async function measure(run) {
  const t0 = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - t0);
}

async function main() {
  if (!(n > 0) || !(listenerCount > 0)) throw new Error("N and LISTENERS must be positive");
  const warm = Math.max(1, Math.floor(n / 10));
  if (mode === "connect") {
    await connects(warm);
    return measure(() => connects(n));
  }
  const qmp = await session();
  qmp.setMaxListeners(listenerCount + 10);
  let ns;
  if (mode === "seq" || mode === "schema") {
    const command = mode === "seq" ? "query-status" : "query-qmp-schema";
    await sequential(qmp, command, warm);
    ns = await measure(() => sequential(qmp, command, n));
  } else if (mode === "pipe") {
    await pipelined(qmp, warm);
    ns = await measure(() => pipelined(qmp, n));
  } else if (mode === "events") {
    await events(qmp, warm, listenerCount);
    ns = await measure(() => events(qmp, n, listenerCount));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  await close(qmp);
  return ns;
}

const timer = setTimeout(() => fail(new Error(`no result after ${DEADLINE_MS} ms`)), DEADLINE_MS);
main().then((ns) => {
  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify({ mode, n, ns, ops: n })}\n`);
}, fail);
