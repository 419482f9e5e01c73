// Where an object's frames come from: positioned reads of a filesystem object, or any other
// repo's stream cut into frames. object-reader.ts opens and verifies what these return.
import type { Readable } from "node:stream";
import type { ObjectFile } from "@dataprotection/storage";
import { copyInto } from "./chunks/copy.ts";
import { churned } from "./chunks/gc.ts";
import { AgentError } from "./errors.ts";
import { FRAME_HEAD } from "./format/frames.ts";
import { headerLength } from "./format/header.ts";

/** Where frames come from: the object's header, then each frame's head and payload|tag. */
export interface FrameSource {
  /** The whole header, v5's extension included (an AgentError when the object is shorter). */
  header(name: string): Promise<Buffer>;
  /** The next frame's flags and payload length, or undefined when no whole head is left. */
  head(): Promise<{ flags: number; len: number } | undefined>;
  /** Move the frame's head and its `n` bytes of payload|tag into `dst` (room for n + FRAME_HEAD); false when the object ends first. */
  body(dst: Buffer, n: number): Promise<boolean>;
  /** Whether any bytes follow what was read. */
  more(): Promise<boolean>;
  /** Bytes of the object read (all of it, after more() said false). */
  readonly stored: number;
  close(): Promise<void>;
}

/** A filesystem object: positioned reads straight into the slots, one per frame (each also reads the next frame's head). */
export class FileFrames implements FrameSource {
  private pos = 0;
  private nextHead?: Buffer;

  constructor(private readonly file: ObjectFile) {}

  get stored(): number {
    return this.file.size;
  }

  private async readFull(dst: Buffer, n: number, at: number): Promise<boolean> {
    for (let off = 0; off < n; ) {
      const k = await this.file.read(dst, off, n - off, at + off);
      if (k === 0) return false;
      off += k;
    }
    return true;
  }

  async header(name: string): Promise<Buffer> {
    if (this.file.size === 0) throw new AgentError(`object "${name}" is empty (truncated)`);
    let b = Buffer.alloc(0);
    for (let n = headerLength(b); n > b.length; n = headerLength(b)) {
      const more = Buffer.alloc(n);
      b.copy(more);
      if (this.file.size < n || !(await this.readFull(more.subarray(b.length), n - b.length, b.length))) throw new AgentError(`object "${name}" is truncated inside its header`);
      b = more;
    }
    this.pos = b.length;
    return b;
  }

  async head(): Promise<{ flags: number; len: number } | undefined> {
    if (!this.nextHead) {
      if (this.file.size - this.pos < FRAME_HEAD) return undefined;
      const b = Buffer.allocUnsafe(FRAME_HEAD);
      if (!(await this.readFull(b, FRAME_HEAD, this.pos))) return undefined;
      this.nextHead = b;
    }
    return { flags: this.nextHead.readUInt8(0), len: this.nextHead.readUInt32BE(1) };
  }

  async body(dst: Buffer, n: number): Promise<boolean> {
    const at = this.pos + FRAME_HEAD;
    if (at + n > this.file.size) return false;
    const extra = at + n + FRAME_HEAD <= this.file.size && dst.length >= n + FRAME_HEAD ? FRAME_HEAD : 0;
    if (!(await this.readFull(dst, n + extra, at))) return false;
    this.pos = at + n;
    this.nextHead = extra ? Buffer.from(dst.subarray(n, n + FRAME_HEAD)) : undefined;
    return true;
  }

  more(): Promise<boolean> {
    return Promise.resolve(this.pos < this.file.size);
  }

  close(): Promise<void> {
    return this.file.close().catch(() => undefined);
  }
}

/** Any other repo: the object's stream, cut into frames. */
export class StreamFrames implements FrameSource {
  private readonly frames = new FrameBuffer();
  private iterator?: AsyncIterator<Buffer>;
  private ended = false;
  stored = 0;

  constructor(private readonly stream: Readable) {}

  // Made after the header is read off the stream.
  private get it(): AsyncIterator<Buffer> {
    return (this.iterator ??= this.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  }

  async header(name: string): Promise<Buffer> {
    const b = await readHeader(this.stream, name);
    this.stored = b.length;
    return b;
  }

  private async need(n: number): Promise<boolean> {
    while (this.frames.have < n && !this.ended) {
      const next = await this.it.next();
      if (next.done) this.ended = true;
      else {
        this.stored += next.value.length;
        churned(next.value.length);
        this.frames.push(next.value);
      }
    }
    return this.frames.have >= n;
  }

  async head(): Promise<{ flags: number; len: number } | undefined> {
    return (await this.need(FRAME_HEAD)) ? this.frames.head() : undefined;
  }

  async body(dst: Buffer, n: number): Promise<boolean> {
    if (!(await this.need(FRAME_HEAD + n))) return false;
    this.frames.skip(FRAME_HEAD);
    this.frames.copyTo(dst, n);
    return true;
  }

  async more(): Promise<boolean> {
    if (this.frames.have > 0) return true;
    for (let next = await this.it.next(); !next.done; next = await this.it.next()) {
      this.stored += next.value.length;
      if (next.value.length > 0) return true;
    }
    return false;
  }

  close(): Promise<void> {
    this.stream.destroy();
    return Promise.resolve();
  }
}

/** Frames arrive in arbitrary pieces of the body: collects them and copies whole frames out. */
class FrameBuffer {
  private parts: Buffer[] = [];
  have = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.have += b.length;
  }

  head(): { flags: number; len: number } | undefined {
    if (this.have < FRAME_HEAD) return undefined;
    const first = this.parts[0];
    const h = first.length >= FRAME_HEAD ? first : Buffer.concat(this.parts).subarray(0, FRAME_HEAD);
    return { flags: h.readUInt8(0), len: h.readUInt32BE(1) };
  }

  skip(n: number): void {
    this.copyTo(undefined, n);
  }

  take(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    this.copyTo(b, n);
    return b;
  }

  /** Move the next n bytes into `dst` (or drop them). */
  copyTo(dst: Buffer | undefined, n: number): void {
    let off = 0;
    while (off < n) {
      const p = this.parts[0];
      const k = Math.min(p.length, n - off);
      if (dst) copyInto(k === p.length ? p : p.subarray(0, k), dst, off);
      off += k;
      if (k === p.length) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    this.have -= n;
  }
}

// Read exactly the header off the front of the body (the fixed part, then v5's extension); the rest stays queued in it.
function readHeader(body: Readable, name: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let b = Buffer.alloc(0);
    const done = (): void => {
      body.off("readable", onReadable);
      body.off("end", onEnd);
      body.off("error", onError);
    };
    const onEnd = (): void => {
      done();
      reject(new AgentError(b.length === 0 ? `object "${name}" is empty (truncated)` : `object "${name}" is truncated inside its header`));
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    // Called again after each read that found too little buffered: it goes on from what it has.
    const onReadable = (): void => {
      for (let n = headerLength(b); n > b.length; n = headerLength(b)) {
        const part = body.read(n - b.length) as Buffer | null;
        if (part === null) return;
        b = Buffer.concat([b, part]);
        // At the end of the body read() hands out what is left, however short.
        if (b.length < n) {
          done();
          return reject(new AgentError(`object "${name}" is truncated inside its header`));
        }
      }
      done();
      resolve(b);
    };
    body.on("readable", onReadable);
    body.on("end", onEnd);
    body.on("error", onError);
  });
}
