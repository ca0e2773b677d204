/**
 * How a recorded reply is found: the command name, then its arguments as JSON with every object's keys sorted,
 * so `{"b":1,"a":2}` and `{"a":2,"b":1}` find the same reply. No arguments and `{}` are the same request to QEMU
 * and share a key.
 */

/** JSON text of `value` with object keys in sorted order (and `undefined` members dropped, as JSON does). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The lookup key of a request: `"query-machines"`, or `'device-list-properties {"typename":"virtio-blk-pci"}'`.
 *
 * @example
 * requestKey("qom-get", { property: "realized", path: "/machine" }); // 'qom-get {"path":"/machine","property":"realized"}'
 */
export function requestKey(command: string, args?: unknown): string {
  if (args === undefined || args === null) return command;
  if (typeof args === "object" && !Array.isArray(args) && Object.keys(args).length === 0) return command;
  return `${command} ${canonicalJson(args)}`;
}
