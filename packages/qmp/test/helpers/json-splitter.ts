/**
 * Splits what a client sends into JSON texts the way QEMU's streamer does: a message ends when its braces (and
 * brackets) balance, with or without a newline after it. For the scripted test servers, which read whole
 * messages; the testkit's fake reproduces QEMU's full parser.
 */
export class JsonSplitter {
  #text = "";
  #scanned = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;

  /** Adds received text; returns every message it completed, in order. */
  push(chunk: string): string[] {
    this.#text += chunk;
    const messages: string[] = [];
    let start = 0;
    for (let i = this.#scanned; i < this.#text.length; i++) {
      const c = this.#text[i];
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (c === "\\") this.#escaped = true;
        else if (c === '"') this.#inString = false;
      } else if (c === '"') this.#inString = true;
      else if (c === "{" || c === "[") this.#depth++;
      else if ((c === "}" || c === "]") && --this.#depth === 0) {
        const message = this.#text.slice(start, i + 1).trim();
        if (message !== "") messages.push(message);
        start = i + 1;
      }
    }
    this.#text = this.#text.slice(start);
    this.#scanned = this.#text.length;
    if (this.#depth === 0 && this.#text.trim() === "") {
      this.#text = "";
      this.#scanned = 0;
    }
    return messages;
  }
}
