import { SocketWriter } from "@qmpkit/protocol-core";
import type { Socket, UnixSocketListener } from "bun";

/** Agent output held while no client is connected; older bytes are dropped past this. */
const MAX_HELD_BYTES = 16 * 1024 * 1024;

/**
 * The host side of a serial guest-agent channel, as QEMU presents a virtio-serial port on a chardev socket: one
 * persistent byte stream to the agent, and a unix socket where host clients come and go, one at a time (a second
 * client waits, as in QEMU's listen backlog). What the agent writes while nobody is connected is held and goes to
 * the next client, as QEMU throttles a virtio-serial port until a client connects. That is how a client meets
 * replies meant for the one before it, which `guest-sync-delimited` exists to skip.
 */
export class SerialRelay {
  readonly #toAgent: (bytes: Uint8Array) => void;
  #server: UnixSocketListener<unknown> | undefined;
  #current: { socket: Socket<unknown>; writer: SocketWriter } | undefined;
  #waiting: { socket: Socket<unknown>; input: Uint8Array[] }[] = [];
  #held: Uint8Array[] = [];
  #heldBytes = 0;

  constructor(toAgent: (bytes: Uint8Array) => void) {
    this.#toAgent = toAgent;
  }

  /** Starts accepting host clients on `path`. */
  listen(path: string): void {
    this.#server = Bun.listen({
      unix: path,
      socket: {
        open: (socket) => {
          if (this.#current === undefined) this.#attach(socket, []);
          else this.#waiting.push({ socket, input: [] });
        },
        data: (socket, chunk) => {
          if (this.#current?.socket === socket) {
            this.#toAgent(chunk);
            return;
          }
          this.#waiting.find((w) => w.socket === socket)?.input.push(Buffer.from(chunk));
        },
        drain: (socket) => {
          if (this.#current?.socket === socket) this.#current.writer.onDrain();
        },
        close: (socket) => {
          if (this.#current?.socket === socket) {
            this.#current.writer.drop();
            this.#current = undefined;
            const next = this.#waiting.shift();
            if (next !== undefined) this.#attach(next.socket, next.input);
            return;
          }
          this.#waiting = this.#waiting.filter((w) => w.socket !== socket);
        },
        error: () => {},
      },
    });
  }

  /** Bytes the agent wrote: to the connected client, or held for the next one. */
  fromAgent(bytes: Uint8Array): void {
    if (this.#current !== undefined) {
      this.#current.writer.write(bytes);
      return;
    }
    this.#held.push(Buffer.from(bytes));
    this.#heldBytes += bytes.length;
    while (this.#heldBytes > MAX_HELD_BYTES && this.#held.length > 1) {
      this.#heldBytes -= (this.#held.shift() as Uint8Array).length;
    }
  }

  /** Forgets agent output held so far (the launcher's own readiness probes). */
  discardHeld(): void {
    this.#held = [];
    this.#heldBytes = 0;
  }

  /** Stops listening and closes every client. */
  close(): void {
    this.#server?.stop(true);
    this.#server = undefined;
    this.#current?.socket.terminate();
    for (const waiting of this.#waiting) waiting.socket.terminate();
    this.#current = undefined;
    this.#waiting = [];
  }

  #attach(socket: Socket<unknown>, input: Uint8Array[]): void {
    const writer = new SocketWriter(socket);
    this.#current = { socket, writer };
    for (const chunk of this.#held) writer.write(chunk);
    this.discardHeld();
    for (const chunk of input) this.#toAgent(chunk);
  }
}
