/**
 * Copy all of `src` into `dst` at `at`; returns the byte count. Buffer.copy goes through
 * TypedArray.set, which V8 does with relaxed atomic word copies when either side is a
 * SharedArrayBuffer (the chunk slots): several times slower than the plain memcpy that
 * Buffer.fill with a buffer value of exactly the filled length does in C++.
 */
export function copyInto(src: Uint8Array, dst: Buffer, at = 0): number {
  const n = Math.min(src.length, dst.length - at);
  if (n <= 0) return 0;
  if (n < 4096) return Buffer.from(src.buffer, src.byteOffset, n).copy(dst, at);
  dst.fill(n === src.length ? src : src.subarray(0, n), at, at + n);
  return n;
}
