/**
 * SocketWriter: coalescing per tick, partial writes resumed on drain in order, and the two fault modes the
 * testkit's fakes use (one byte per event-loop turn; a byte limit that cuts the connection).
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import { SocketWriter } from "../src/index.ts";

/** A socket stand-in whose kernel takes at most `room` bytes until `free()`. */
class StubSocket {
  readonly calls: string[] = [];
  room = Number.POSITIVE_INFINITY;
  closed = false;
  write(data: Uint8Array): number {
    if (this.closed) return -1;
    const taken = Math.min(this.room, data.length);
    this.room -= taken;
    if (taken > 0) this.calls.push(Buffer.from(data.subarray(0, taken)).toString());
    return taken;
  }
  get text(): string {
    return this.calls.join("");
  }
}

function writerOn(stub: StubSocket, onLimit: () => void = () => {}): SocketWriter {
  return new SocketWriter(stub as unknown as Socket<unknown>, { onLimit });
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

test("writes made in one tick go out in one socket.write", async () => {
  const stub = new StubSocket();
  const writer = writerOn(stub);
  writer.write("a");
  writer.write(Buffer.from("b"));
  writer.write("c");
  await writer.flushed();
  expect(stub.calls).toEqual(["abc"]);
  expect(writer.writtenBytes).toBe(3);
});

test("what the kernel refuses waits for drain and goes out in order", async () => {
  const stub = new StubSocket();
  stub.room = 2;
  const writer = writerOn(stub);
  writer.write("hello");
  await tick();
  writer.write(" world");
  await tick();
  expect(stub.text).toBe("he");
  expect(writer.bufferedBytes).toBe(9);
  let flushed = false;
  void writer.flushed().then(() => (flushed = true));
  stub.room = Number.POSITIVE_INFINITY;
  writer.onDrain();
  await writer.flushed();
  expect(flushed).toBe(true);
  expect(stub.text).toBe("hello world");
});

test("limitBytes cuts at exactly that many bytes, drops the rest and calls onLimit once", async () => {
  const stub = new StubSocket();
  let cut = 0;
  const writer = writerOn(stub, () => cut++);
  writer.limitBytes(7);
  writer.write("0123");
  await tick();
  writer.write("456789");
  await writer.flushed();
  expect(stub.text).toBe("0123456");
  expect(cut).toBe(1);
  expect(writer.closed).toBe(true);
  writer.write("more");
  await tick();
  expect(stub.text).toBe("0123456");
});

test("limitBytes below what was already written cuts at once", async () => {
  const stub = new StubSocket();
  let cut = 0;
  const writer = writerOn(stub, () => cut++);
  writer.write("abcdef");
  await writer.flushed();
  writer.limitBytes(3);
  expect(cut).toBe(1);
});

test("splitBytes writes one byte per socket.write, flushed() waits for the last, and can be turned off", async () => {
  const stub = new StubSocket();
  const writer = writerOn(stub);
  writer.splitBytes();
  writer.write("abc");
  writer.write("de");
  await writer.flushed();
  expect(stub.calls).toEqual(["a", "b", "c", "d", "e"]);
  writer.splitBytes(false);
  writer.write("fgh");
  await writer.flushed();
  expect(stub.calls.at(-1)).toBe("fgh");
});

test("a closed socket drops the queue and resolves flushed()", async () => {
  const stub = new StubSocket();
  stub.room = 1;
  const writer = writerOn(stub);
  writer.write("abc");
  await tick();
  stub.closed = true;
  writer.onDrain();
  await writer.flushed();
  expect(writer.closed).toBe(true);
  expect(writer.bufferedBytes).toBe(0);
});

test("over a real socket, split mode makes the peer read one byte per chunk", async () => {
  const dir = mkdtempSync(join(tmpdir(), "qmpkit-writer-"));
  const path = join(dir, "s.sock");
  const chunks: string[] = [];
  const done = Promise.withResolvers<void>();
  const server = Bun.listen<undefined>({
    unix: path,
    socket: {
      // Start once the client speaks: by then it is reading, so nothing piles up in the kernel before it does.
      data(socket) {
        const writer = new SocketWriter(socket as Socket<unknown>);
        writer.splitBytes();
        writer.write("split me");
        void writer.flushed().then(() => socket.end());
      },
    },
  });
  try {
    const client = await Bun.connect({
      unix: path,
      socket: {
        data(_s, chunk) {
          chunks.push(chunk.toString());
        },
        close: () => done.resolve(),
        end: () => done.resolve(),
      },
    });
    client.write("go");
    await done.promise;
    expect(chunks).toEqual([..."split me"]);
  } finally {
    server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
});
