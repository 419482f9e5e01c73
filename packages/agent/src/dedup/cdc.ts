// Content-defined chunking: FastCDC (Xia et al., "FastCDC: a Fast and Efficient Content-Defined
// Chunking Approach for Data Deduplication", USENIX ATC 2016), written from the paper's
// description:
// - a gear rolling hash, h = (h << 1) + G[byte]: one shift, one add and one table load per byte.
//   With a 32-bit h, bit k depends on the last k + 1 bytes only, so testing the top bits tests a
//   window of the last 32 bytes, and boundaries depend on content, not on position;
// - cut-point skipping: the first `min` bytes of a chunk are not hashed at all (no cut can fall
//   there anyway);
// - normalized chunking, level `nc`: before `avg` bytes a cut needs log2(avg) + nc zero bits
//   (harder), from `avg` on log2(avg) - nc (easier), which pulls chunk sizes towards `avg`;
// - a hard cut at `max` bytes (long runs of equal bytes never match the mask).
// One addition to the paper: the hash starts 32 bytes before `min` (the "warm-up"), so whether a
// position qualifies as a cut depends only on the 32 bytes ending there, never on where the
// chunk started; only the min/normal/max distances do.
// An edit changes only the chunks around it: every cut before it stays; after it, once the old
// and the new stream cut at the same place, every later cut is the same in both. They meet again
// soon but not always in the chunk after the edit: a cut one stream takes may lie within `min`
// of the other's chunk start, and they leapfrog for a chunk or more. Measured (random data,
// avg 1 KiB, min avg/4, max 4 avg, 3,000 insertions of 1-300 B): with level 1, 94% resync within
// the chunk after the insertion, the worst took 5 chunks, 1.48 mean chunk sizes are re-stored
// per insertion; level 2 (the paper's recommendation): 78%, worst 16, 1.90; level 0 (max 8 avg): 99.7%,
// worst 3, 1.71 (its wider size spread puts edits into larger chunks). Level 1 re-stores least.
import { gearTable } from "./gear.ts";

/** Chunk sizes in bytes: min < avg < max, avg a power of two; `nc` the normalization level (default 1). */
export interface CdcParams {
  min: number;
  avg: number;
  max: number;
  nc?: number;
}

/**
 * The repo default, chosen by measurement (hand-run: `npx tsx packages/agent/test/bench/cdc-params.ts
 * 0.4`, the standard dataset at 0.4 GiB and its standard 1% "day 2"; the share of day 2's bytes in
 * chunks day 1 did not have, i.e. what a second backup stores before compression):
 *   avg   128 KiB 0.106 | 256 KiB 0.179 | 512 KiB 0.291 | 1 MiB 0.401 | 2 MiB 0.476 | 4 MiB 0.514
 *   (nc 2: 512 KiB 0.265, 1 MiB 0.369; nc 0, max 8 avg: 1 MiB 0.406); cutting ran at
 *   ~600-700 MB/s on one core for every size (a 2-core VM; noisy).
 * Day 2 rewrites about one 8 KiB page per MiB of random data, and every chunk a page lands in is
 * stored again, so the new bytes grow with the chunk size; the cutting cost does not. What grows
 * as 1/avg is the per-chunk bookkeeping: index entries (kept in memory while backing up), chunk
 * ids in snapshot trees, one HMAC, zstd frame and GCM seal per chunk. 512 KiB stores 27% less than
 * 1 MiB (restic's average: its chunks, min 512 KiB + an exponential tail, are larger still) and
 * 43% less than 4 MiB (Kopia's) on day 2, for ~1.7 million chunks per TiB (an index that a
 * compact in-memory layout of ~50 B/entry keeps under 100 MiB); 256 KiB would save another 38%
 * for twice that, beyond the agent's memory budget at TiB scale. No size here meets the issue's
 * "<= 0.03 of the first backup" for this day 2: extrapolated, that needs chunks of ~16 KiB.
 * Patches (patch.ts, content.ts) meet it instead: a changed chunk of a file the parent had is
 * stored as the bytes that differ from the parent's chunks (0.011 in bench:dedup), so the chunk
 * size no longer sets what a rewritten page costs, only what an insertion costs.
 * Normalization level 1 rather than the paper's 2: level 2 stored 8-9% less here (its sizes are
 * narrower and its mean 5% smaller, so pages land in smaller chunks) but 28% more per insertion
 * (see above), and database dumps (streams) change by insertions and deletions.
 * min = avg / 4 (FastCDC's ratio), max = avg * 4 (a chunk of random data reaches it with
 * probability e^-6.4, ~0.2%: max is for runs of equal bytes, e.g. holes).
 */
export const DEFAULT_CDC: CdcParams = { min: 128 << 10, avg: 512 << 10, max: 2 << 20, nc: 1 };
/** Snapshot trees (tree.ts) are chunked finer: an edit of one entry re-stores ~64 KiB of tree, not ~512 KiB. */
export const TREE_CDC: CdcParams = { min: 16 << 10, avg: 64 << 10, max: 256 << 10, nc: 1 };

/** Checks `p`; returns it. */
export function checkCdcParams(p: CdcParams): CdcParams {
  const ok =
    Number.isInteger(p.min) && Number.isInteger(p.avg) && Number.isInteger(p.max) &&
    p.min >= 64 && p.min < p.avg && p.avg < p.max && p.max <= 64 << 20 && (p.avg & (p.avg - 1)) === 0 &&
    (p.nc === undefined || (Number.isInteger(p.nc) && p.nc >= 0 && p.nc <= 3));
  if (!ok) throw new RangeError(`chunker params ${JSON.stringify(p)}: need 64 <= min < avg < max <= 64 MiB, avg a power of two, nc 0..3`);
  return p;
}

/** The top `bits` bits of a 32-bit word set, as an int32 (for `(h & mask) === 0` on an int32 h). */
function topBits(bits: number): number {
  return (~0 << (32 - bits)) | 0;
}

/** A chunker's constants: its params, its gear table (as int32, so the hot loop stays in int32) and masks. */
export interface Cdc {
  readonly params: CdcParams;
  readonly gear: Int32Array;
  readonly maskS: number;
  readonly maskL: number;
}

export function cdc(params: CdcParams, gear: Uint32Array = gearTable()): Cdc {
  checkCdcParams(params);
  const bits = Math.log2(params.avg);
  const nc = params.nc ?? 1;
  return { params, gear: new Int32Array(gear.buffer, gear.byteOffset, 256), maskS: topBits(Math.min(32, bits + nc)), maskL: topBits(Math.max(1, bits - nc)) };
}

/**
 * The length of the chunk that starts at `data[start]`, given the `available` bytes from there.
 * The caller gives at least `max` bytes, or everything up to the end of the stream.
 */
export function cutLength(c: Cdc, data: Uint8Array, start: number, available: number): number {
  const { min, avg, max } = c.params;
  if (available <= min) return available;
  const n = available < max ? available : max;
  const normal = n < avg ? n : avg;
  const { gear, maskS, maskL } = c;
  let h = 0;
  let i = start + min;
  for (let j = i - 32 > start ? i - 32 : start; j < i; j++) h = ((h << 1) + gear[data[j]]) | 0;
  // Four bytes a turn, then one: the same cuts, ~1.5x as fast in V8 (1.1 -> 1.6 GB/s on random
  // data, one core of the 2-core bench machine), where cutting was a third of the main thread's
  // work in a first backup.
  for (let phase = 0, mask = maskS, stop = start + normal; phase < 2; phase++, mask = maskL, stop = start + n) {
    for (const stop4 = stop - 3; i < stop4; i += 4) {
      h = ((h << 1) + gear[data[i]]) | 0;
      if ((h & mask) === 0) return i + 1 - start;
      h = ((h << 1) + gear[data[i + 1]]) | 0;
      if ((h & mask) === 0) return i + 2 - start;
      h = ((h << 1) + gear[data[i + 2]]) | 0;
      if ((h & mask) === 0) return i + 3 - start;
      h = ((h << 1) + gear[data[i + 3]]) | 0;
      if ((h & mask) === 0) return i + 4 - start;
    }
    for (; i < stop; i++) {
      h = ((h << 1) + gear[data[i]]) | 0;
      if ((h & mask) === 0) return i + 1 - start;
    }
  }
  return n;
}

/** The chunk lengths of a whole buffer, in order. */
export function chunkLengths(c: Cdc, data: Uint8Array): number[] {
  const out: number[] = [];
  for (let at = 0; at < data.length; ) {
    const n = cutLength(c, data, at, data.length - at);
    out.push(n);
    at += n;
  }
  return out;
}

/**
 * Cuts a stream into chunks. It reads ahead up to `max` bytes into its own buffer (2 * max
 * bytes, allocated once and reused for every stream), so the source may reuse its buffers. A
 * yielded chunk is a view of that buffer, valid until the next one is asked for: a consumer
 * that keeps a chunk copies it. One stream at a time per Chunker.
 */
export class Chunker {
  readonly cdc: Cdc;
  private buf?: Buffer;
  private busy = false;

  constructor(params: CdcParams, gear?: Uint32Array) {
    this.cdc = cdc(params, gear);
  }

  async *chunks(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Buffer> {
    if (this.busy) throw new Error("internal: a Chunker cuts one stream at a time");
    this.busy = true;
    const { max } = this.cdc.params;
    const size = 2 * max;
    const buf = (this.buf ??= Buffer.allocUnsafe(size));
    const it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : syncToAsync(source[Symbol.iterator]());
    let rest: Uint8Array | undefined;
    let ended = false;
    let start = 0;
    let end = 0;
    try {
      for (;;) {
        // At least max bytes ahead (or the rest of the stream): every cut is then final.
        while (!ended && end - start < max) {
          if (!rest || rest.length === 0) {
            const next = await it.next();
            if (next.done) ended = true;
            else rest = next.value;
            continue;
          }
          if (end === size) {
            // start > max here: moves less than max bytes, once per max bytes cut.
            buf.copyWithin(0, start, end);
            end -= start;
            start = 0;
          }
          const n = Math.min(rest.length, size - end);
          buf.set(n === rest.length ? rest : rest.subarray(0, n), end);
          end += n;
          rest = rest.subarray(n);
        }
        if (end === start) return;
        const len = cutLength(this.cdc, buf, start, end - start);
        const chunk = buf.subarray(start, start + len);
        start += len;
        yield chunk;
      }
    } finally {
      this.busy = false;
      if (!ended) await it.return?.(undefined);
    }
  }
}

function syncToAsync<T>(it: Iterator<T>): AsyncIterator<T> {
  return {
    next: () => Promise.resolve(it.next()),
    return: () => Promise.resolve(it.return?.() ?? { done: true, value: undefined }),
  };
}
