// JSON text as QEMU writes it (qobject_to_json): `": "` and `", "` separators, every non-ASCII character escaped as
// \uXXXX, so a fake's replies are byte-for-byte what qemu-ga sends (`{"return": {}}`). bigint becomes an exact
// integer, for values such as guest-get-time's nanoseconds that a JavaScript number cannot hold.

function quote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (char === '"') out += '\\"';
    else if (char === "\\") out += "\\\\";
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (char === "\b") out += "\\b";
    else if (char === "\f") out += "\\f";
    else if (code < 0x20 || (code >= 0x7f && code <= 0xffff))
      out += `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
    else if (code > 0xffff) {
      // A surrogate pair, as QEMU writes characters outside the BMP.
      const high = 0xd800 + ((code - 0x10000) >> 10);
      const low = 0xdc00 + ((code - 0x10000) & 0x3ff);
      out += `\\u${high.toString(16).toUpperCase()}\\u${low.toString(16).toUpperCase()}`;
    } else out += char;
  }
  return `${out}"`;
}

/** Serialises `value` the way QEMU does. `undefined` members are left out, as JSON.stringify would. */
export function toQemuJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "string") return quote(value);
  if (Array.isArray(value)) return `[${value.map(toQemuJson).join(", ")}]`;
  if (typeof value === "object") {
    const members = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .map(([key, member]) => `${quote(key)}: ${toQemuJson(member)}`);
    return `{${members.join(", ")}}`;
  }
  return "null";
}
