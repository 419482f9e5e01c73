// Hand-run: `npx tsx packages/agent/test/bench/cdc-params.ts [GIB] [DIR]` (default 0.2 GiB in
// /tmp/dp-cdc-params, deleted afterwards). Chooses the dedup chunker's parameters (dedup/cdc.ts
// DEFAULT_CDC) by measurement: makes the standard dataset (../shared/bench/make-dataset.py), cuts
// every file with each candidate, applies the standard "day 2" (mutate-dataset.py, 1%), cuts again
// and prints per candidate: the share of day 2's bytes in chunks day 1 did not have (what a
// second backup stores before compression), the mean chunk size, and the chunker's throughput
// (cutting only, from memory, one thread; ids and I/O not included).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type CdcParams, Chunker } from "../../src/dedup/cdc.ts";

const here = dirname(fileURLToPath(import.meta.url));
const bench = resolve(here, "../../../..", "../shared/bench");
const gib = process.argv[2] ?? "0.2";
const dir = process.argv[3] ?? "/tmp/dp-cdc-params";
const KiB = 1024;
const MiB = 1024 * KiB;

interface Candidate {
  label: string;
  params: CdcParams;
  chunker: Chunker;
  day1: Set<string>;
  seconds: number;
  bytes: number;
  chunks: number;
}

const sizes = [128 * KiB, 256 * KiB, 512 * KiB, MiB, 2 * MiB, 4 * MiB];
const candidates: Candidate[] = [];
const add = (label: string, params: CdcParams): void => void candidates.push({ label, params, chunker: new Chunker(params), day1: new Set(), seconds: 0, bytes: 0, chunks: 0 });
for (const avg of sizes) add(`avg ${avg / KiB} KiB, nc 1`, { min: avg / 4, avg, max: avg * 4, nc: 1 });
for (const avg of [512 * KiB, MiB]) add(`avg ${avg / KiB} KiB, nc 2`, { min: avg / 4, avg, max: avg * 4, nc: 2 });
add("avg 1024 KiB, nc 0, max 8x", { min: MiB / 4, avg: MiB, max: 8 * MiB, nc: 0 });

function files(root: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(root).sort()) {
    const p = join(root, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}

async function* pieces(buf: Buffer): AsyncGenerator<Buffer> {
  for (let off = 0; off < buf.length; off += MiB) yield buf.subarray(off, off + MiB);
}

/** Cut every file with every candidate; returns, per candidate, the chunks (hash -> length) and the bytes cut. */
async function day(): Promise<{ chunks: Map<string, number>[]; total: number }> {
  const chunks = candidates.map(() => new Map<string, number>());
  let total = 0;
  for (const f of files(dir)) {
    const data = readFileSync(f);
    total += data.length;
    for (const [i, c] of candidates.entries()) {
      // Time the cutting alone: collect the lengths, hash afterwards.
      const lens: number[] = [];
      const t0 = process.hrtime.bigint();
      for await (const chunk of c.chunker.chunks(pieces(data))) lens.push(chunk.length);
      c.seconds += Number(process.hrtime.bigint() - t0) / 1e9;
      c.bytes += data.length;
      c.chunks += lens.length;
      let off = 0;
      for (const n of lens) {
        chunks[i].set(createHash("sha256").update(data.subarray(off, off + n)).digest("hex"), n);
        off += n;
      }
    }
  }
  return { chunks, total };
}

rmSync(dir, { recursive: true, force: true });
console.log(execFileSync("python3", [join(bench, "make-dataset.py"), dir, gib], { encoding: "utf8" }).trim());
try {
  const d1 = await day();
  for (const [i, c] of candidates.entries()) c.day1 = new Set(d1.chunks[i].keys());
  console.log(execFileSync("python3", [join(bench, "mutate-dataset.py"), dir], { encoding: "utf8" }).trim());
  const d2 = await day();
  console.log(`\nday 1: ${(d1.total / MiB).toFixed(0)} MiB, day 2: ${(d2.total / MiB).toFixed(0)} MiB`);
  console.log("candidate                    | new bytes day 2 / total | new MiB | mean chunk | chunks | cut MB/s");
  console.log("-----------------------------|-------------------------|---------|------------|--------|---------");
  for (const [i, c] of candidates.entries()) {
    let fresh = 0;
    for (const [h, n] of d2.chunks[i]) if (!c.day1.has(h)) fresh += n;
    const cells = [
      c.label.padEnd(28),
      (fresh / d2.total).toFixed(3).padStart(23),
      (fresh / MiB).toFixed(1).padStart(7),
      `${(c.bytes / c.chunks / KiB).toFixed(0)} KiB`.padStart(10),
      String(c.chunks / 2).padStart(6),
      (c.bytes / c.seconds / 1e6).toFixed(0).padStart(8),
    ];
    console.log(cells.join(" | "));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
