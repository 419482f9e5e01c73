// Per-chunk buffers that Node allocates for us (cipher output, read streams) are outside the JS
// heap, and V8 lets tens of MiB of them pile up per thread before it collects. When node runs
// with --expose-gc (bin/dp-agent does), a cheap young-generation collection every MiB (every
// chunk) keeps each thread's garbage at that size instead. Every MiB rather than every 8: malloc
// then reuses the freed pieces before it trims its arena, so pull-dir at 2 GiB measured ~15 MiB
// less RSS and a fifth of the page faults (45k instead of 220k), at no measurable CPU cost.
const gc = (globalThis as { gc?: (options: { type: "minor"; execution: "sync" }) => void }).gc;
const EVERY = 1 << 20;
let since = 0;

/** Count `bytes` of short-lived buffers; collect now and then. */
export function churned(bytes: number): void {
  if (!gc) return;
  since += bytes;
  if (since < EVERY) return;
  since = 0;
  gc({ type: "minor", execution: "sync" });
}
