import { type ParsedInput, QMPInputParser } from "../monitor/json-stream.ts";

const SENTINEL = 0xff;

/**
 * What qemu-ga reads: a JSON byte stream parsed like QEMU's monitor (the same lexer and streamer), so a command is
 * answered at its closing brace with no newline needed, joined commands are separate commands, and a 0xFF byte is a
 * lexical error that drops the half-parsed message and is answered with `JSON parse error, stray '…'`.
 *
 * qemu-ga keeps one parser for its whole life, not one per client: a message a client left half-sent is completed
 * by the next client's bytes (recorded from qemu-ga 7.2; that is why clients start with 0xFF and a
 * `guest-sync-delimited`). The fake serves clients at once, so each has its own stream, and a stream that a client
 * left is handed to the next client that connects.
 */
export class AgentInputStream {
  readonly #parser: QMPInputParser;
  #sink: (input: ParsedInput) => void = () => {};

  /** `maxBytes`: QEMU's token and message size limit. */
  constructor(maxBytes: number) {
    this.#parser = new QMPInputParser((input) => this.#sink(input), maxBytes);
  }

  /** Where parsed inputs go from now on (the client that owns the stream). */
  attach(sink: (input: ParsedInput) => void): void {
    this.#sink = sink;
  }

  /** Feeds one chunk; the sink is called for each input it completes. Returns how many 0xFF bytes it held. */
  push(chunk: Uint8Array): number {
    let sentinels = 0;
    for (let at = chunk.indexOf(SENTINEL); at !== -1; at = chunk.indexOf(SENTINEL, at + 1)) sentinels++;
    this.#parser.feed(chunk);
    return sentinels;
  }
}
