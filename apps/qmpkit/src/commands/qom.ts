import { CONNECTION_FLAGS, defineCommand } from "../cli.ts";
import { CliUsageError, isExecuteError } from "../errors.ts";
import { detectStyle, formatJson } from "../format.ts";
import { connectionOptions, open, type Session, takeTarget } from "../session.ts";
import { parseValue } from "../shell/parse.ts";

/** An element of `qom-list`. */
interface QomProperty {
  readonly name: string;
  readonly type: string;
}

const ACTIONS = {
  ls: { args: ["PATH"], optional: 0 },
  get: { args: ["PATH", "PROP"], optional: 0 },
  set: { args: ["PATH", "PROP", "VALUE"], optional: 0 },
  tree: { args: ["PATH"], optional: 1 },
} as const;

type Action = keyof typeof ACTIONS;

/** Checks `ls|get|set|tree PATH [PROP [VALUE]]` before anything connects. */
export function parseQomWords(words: readonly string[]): { action: Action; args: string[] } {
  const [action, ...args] = words;
  if (action === undefined)
    throw new CliUsageError("missing action: ls, get, set or tree (see 'qmpkit qom --help')");
  if (!Object.hasOwn(ACTIONS, action))
    throw new CliUsageError(`unknown qom action '${action}'; expected ls, get, set or tree`);
  // qom-get/qom-set's PATH.PROP form (QEMU's scripts/qmp tools): `get /machine.type`.
  const dotted = /^(.*\/[^/.]*)\.([^/.]+)$/;
  const first = args[0];
  const split = first === undefined ? null : dotted.exec(first);
  if (split && ((action === "get" && args.length === 1) || (action === "set" && args.length === 2))) {
    args.splice(0, 1, split[1] as string, split[2] as string);
  }
  const spec = ACTIONS[action as Action];
  const min = spec.args.length - spec.optional;
  if (args.length < min || args.length > spec.args.length) {
    throw new CliUsageError(
      `usage: qmpkit qom ADDRESS ${action} ${spec.args.map((a, i) => (i >= min ? `[${a}]` : a)).join(" ")}`,
    );
  }
  return { action: action as Action, args };
}

const isChild = (p: QomProperty) => p.type.startsWith("child<");

// Made on first use: building a collator costs ~1 ms, and every command's start-up evaluates this module.
let natural: Intl.Collator | undefined;
function naturalCompare(a: string, b: string): number {
  if (natural === undefined) natural = new Intl.Collator("en", { numeric: true });
  return natural.compare(a, b);
}

/** `qom-list` output as one name per line, children marked with a trailing '/'. */
export function renderQomList(properties: readonly QomProperty[], long: boolean): string {
  const width = Math.max(0, ...properties.map((p) => p.name.length + (isChild(p) ? 1 : 0)));
  return properties
    .map((p) => {
      const name = isChild(p) ? `${p.name}/` : p.name;
      return long ? `${name.padEnd(width)}  ${p.type}` : name;
    })
    .join("\n");
}

/**
 * One property of `qom tree --values`: `name (type) = value`, the value as one-line JSON, or why it could not
 * be read (write-only properties and some QEMU getters refuse) as `<ErrorClass: desc>`.
 */
export function renderQomValue(property: QomProperty, value: { ok: unknown } | { error: string }): string {
  const shown = "ok" in value ? formatJson(value.ok, { pretty: false, color: false }) : `<${value.error}>`;
  return `${property.name} (${property.type}) = ${shown}`;
}

async function readProperty(session: Session, path: string, property: QomProperty): Promise<string> {
  try {
    return renderQomValue(property, {
      ok: await session.execute("qom-get", { path, property: property.name }),
    });
  } catch (error) {
    if (!isExecuteError(error)) throw error;
    return renderQomValue(property, { error: `${error.errorClass}: ${error.desc}` });
  }
}

async function tree(
  session: Session,
  path: string,
  write: (line: string) => void,
  withValues: boolean,
  depth = 0,
): Promise<void> {
  const properties = (await session.execute("qom-list", { path })) as QomProperty[];
  write(`${"  ".repeat(depth)}${depth === 0 ? path : path.slice(path.lastIndexOf("/") + 1)}`);
  // device[4] before device[20], as a person counts.
  const byName = (a: QomProperty, b: QomProperty) => naturalCompare(a.name, b.name);
  if (withValues) {
    // Properties first, marked with '.', then the children below them, like QEMU's qom-tree script.
    for (const property of properties.filter((p) => !isChild(p)).sort(byName)) {
      write(`${"  ".repeat(depth + 1)}.${await readProperty(session, path, property)}`);
    }
  }
  for (const child of properties.filter(isChild).sort(byName)) {
    await tree(session, `${path === "/" ? "" : path}/${child.name}`, write, withValues, depth + 1);
  }
}

export const qomCommand = defineCommand({
  name: "qom",
  summary: "browse and change the QEMU object model (qom-list/get/set, a tree)",
  usage: "[options] (ADDRESS | --fake) ls|get|set|tree PATH [PROP [VALUE]]",
  description: [
    "ls PATH lists an object's properties (children end with '/'); get PATH PROP prints a",
    "property as JSON; set PATH PROP VALUE sets one (VALUE as in the shell: JSON if it parses,",
    "else a string); tree [PATH] prints the composition tree below PATH (default /), children",
    "in natural order; with --values each object's properties too, as '.name (type) = value'.",
    "get and set also take qom-get's PATH.PROP form: get /machine.type.",
  ].join("\n"),
  flags: {
    ...CONNECTION_FLAGS,
    long: { type: "boolean", short: "l", description: "ls: show each property's type" },
    values: {
      type: "boolean",
      short: "V",
      description: "tree: each property's type and value (a qom-get per property)",
    },
    pretty: { type: "boolean", short: "p", description: "get: indent the JSON even when not on a terminal" },
    compact: { type: "boolean", description: "get: one-line JSON even on a terminal" },
  },
  examples: [
    "qmpkit qom unix:/tmp/qmp.sock ls /machine",
    "qmpkit qom --fake get /machine type",
    "qmpkit qom --fake get /machine.type",
    "qmpkit qom localhost:4444 set /machine/peripheral/nic0 link-up false",
    "qmpkit qom --fake tree /machine/unattached",
    "qmpkit qom --fake tree --values /machine/peripheral-anon",
  ],
  async run({ values, positionals }, io) {
    const { target, rest } = takeTarget(positionals, values, 1);
    const { action, args } = parseQomWords(rest);
    const session = await open(io, target, connectionOptions(values));
    const write = (line: string) => io.stdout.write(`${line}\n`);
    try {
      const [path = "/", property, value] = args;
      switch (action) {
        case "ls": {
          const properties = (await session.execute("qom-list", { path })) as QomProperty[];
          if (properties.length > 0) write(renderQomList(properties, values.long === true));
          break;
        }
        case "get":
          write(
            formatJson(
              await session.execute("qom-get", { path, property }),
              detectStyle(io.stdout, io.env, values.pretty ? true : values.compact ? false : undefined),
            ),
          );
          break;
        case "set":
          await session.execute("qom-set", { path, property, value: parseValue(value ?? "", false) });
          break;
        case "tree":
          await tree(session, path, write, values.values === true);
          break;
      }
      return 0;
    } finally {
      await session.close();
    }
  },
});
