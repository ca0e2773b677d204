const LF = 0x0a;
const SENTINEL = 0xff;

/** What the agent's input side sees: a complete line, or a 0xFF byte (with whatever half-line preceded it). */
export type AgentInput = { kind: "line"; text: string } | { kind: "sentinel"; discarded: string };

/**
 * Splits a client's byte stream the way qemu-ga reacts to it: a 0xFF byte acts at once (the agent drops its
 * half-parsed input and answers with an error), a newline ends a command. qemu-ga parses a JSON stream and needs no
 * newlines; the fake wants one per command, which every qmpkit client sends. Bytes are scanned once each.
 */
export class AgentInputDecoder {
  readonly #maxLineBytes: number;
  #parts: Uint8Array[] = [];
  #bytes = 0;
  readonly #utf8 = new TextDecoder();

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** Feeds one chunk; returns the inputs it completed, in order. Throws RangeError past the line limit. */
  push(chunk: Uint8Array): AgentInput[] {
    const inputs: AgentInput[] = [];
    let start = 0;
    let nextLf = chunk.indexOf(LF);
    let nextFf = chunk.indexOf(SENTINEL);
    while (nextLf !== -1 || nextFf !== -1) {
      const stop = nextLf === -1 ? nextFf : nextFf === -1 ? nextLf : Math.min(nextLf, nextFf);
      this.#parts.push(chunk.subarray(start, stop));
      const text = this.#take();
      inputs.push(chunk[stop] === SENTINEL ? { kind: "sentinel", discarded: text } : { kind: "line", text });
      start = stop + 1;
      if (stop === nextLf) nextLf = chunk.indexOf(LF, start);
      if (stop === nextFf) nextFf = chunk.indexOf(SENTINEL, start);
    }
    if (start < chunk.length) {
      this.#bytes += chunk.length - start;
      if (this.#bytes > this.#maxLineBytes) {
        this.#parts = [];
        this.#bytes = 0;
        throw new RangeError(`A command line exceeds ${this.#maxLineBytes} bytes`);
      }
      this.#parts.push(chunk.slice(start));
    }
    return inputs;
  }

  #take(): string {
    const parts = this.#parts;
    this.#parts = [];
    this.#bytes = 0;
    return parts.length === 1 ? this.#utf8.decode(parts[0]) : this.#utf8.decode(Buffer.concat(parts));
  }
}
