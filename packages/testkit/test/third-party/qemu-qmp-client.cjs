// Runs one scenario with npm `qemu-qmp` under Node, as its users run it (Bun 1.4.4 cannot load it: the library
// assigns to a parameter named `arguments`, which Bun parses as strict code). Prints the log as one JSON line.
// Usage: node qemu-qmp-client.cjs SOCKET_PATH
const QMP = require("qemu-qmp");

const path = process.argv[2];
const log = [];
const qmp = new QMP();

function execute(command, args) {
  return new Promise((resolve, reject) => {
    const done = (error, result) => (error ? reject(error) : resolve(result));
    if (args === undefined) qmp.execute(command, done);
    else qmp.execute(command, args, done);
  });
}

async function main() {
  // The client emits QMP events under their lower-cased names on the socket itself, so "resume" is also the
  // stream's own event (no argument): only calls carrying the QMP event name are QEMU's.
  for (const event of ["stop", "resume"]) {
    qmp.on(event, (name) => {
      if (typeof name === "string") log.push(`event ${name}`);
    });
  }
  await new Promise((resolve, reject) => qmp.connect(path, (error) => (error ? reject(error) : resolve())));
  log.push(
    `greeting ${qmp.version.qemu.major}.${qmp.version.qemu.minor} ${JSON.stringify(qmp.capabilities)}`,
  );
  log.push(`query-status ${(await execute("query-status")).status}`);
  await execute("stop");
  log.push("stop returned");
  log.push(`query-status ${(await execute("query-status")).status}`);
  await execute("cont");
  log.push("cont returned");
  const refused = await execute("human-monitor-command", {}).catch((error) => error.message);
  log.push(`refused: ${refused}`);
  qmp.end();
}

const timer = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ error: "timed out", log })}\n`);
  process.exit(1);
}, 10_000);
main().then(
  () => {
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify({ log })}\n`);
  },
  (error) => {
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify({ error: String(error), log })}\n`);
    process.exitCode = 1;
  },
);
