import { AgentError } from "../errors.ts";

/**
 * Pulls exact byte counts out of an async stream of buffers, without copying when it
 * can. The source may reuse a buffer once the next one is asked for, so what is
 * returned is valid until the next call, and leftovers are copied before moving on.
 */
export class ByteReader {
  private parts: Buffer[] = [];
  private have = 0;
  private readonly it: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>, private readonly what: string) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Exactly n bytes, or an error when the stream ends first. */
  async read(n: number): Promise<Buffer> {
    while (this.have < n) {
      const next = await this.advance();
      if (next.done) throw new AgentError(`${this.what} ends unexpectedly (truncated archive)`);
      this.parts.push(next.value);
      this.have += next.value.length;
    }
    return this.take(n);
  }

  /** Up to n bytes (at least 1): whatever is buffered, to stream large contents piecewise. */
  async readSome(n: number): Promise<Buffer> {
    if (this.have === 0) {
      const next = await this.advance();
      if (next.done) throw new AgentError(`${this.what} ends unexpectedly (truncated archive)`);
      this.parts.push(next.value);
      this.have += next.value.length;
    }
    return this.take(Math.min(n, this.parts[0].length));
  }

  private advance(): Promise<IteratorResult<Buffer>> {
    if (this.have > 0) this.parts = [Buffer.concat(this.parts)];
    return this.it.next();
  }

  /** True when the source is exhausted and nothing is buffered. */
  async atEnd(): Promise<boolean> {
    if (this.have > 0) return false;
    const next = await this.it.next();
    if (next.done) return true;
    this.parts.push(next.value);
    this.have += next.value.length;
    return next.value.length === 0 ? this.atEnd() : false;
  }

  private take(n: number): Buffer {
    const first = this.parts[0];
    if (first.length >= n) {
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
      this.have -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const p = this.parts[0];
      const k = Math.min(p.length, n - off);
      p.copy(out, off, 0, k);
      off += k;
      if (k === p.length) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    this.have -= n;
    return out;
  }
}
