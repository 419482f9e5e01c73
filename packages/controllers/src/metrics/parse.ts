// Reading the status strings metrics are made of: RFC 3339 times, Go durations, sizes.
// Each returns undefined for what it cannot read, so a malformed status drops one sample
// instead of exporting a wrong one.

/** An RFC 3339 time as Unix seconds. */
export function timestampSeconds(t: string | undefined): number | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

const DURATION_UNITS: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, "µs": 1e-6, "μs": 1e-6, ns: 1e-9 };

/** A duration as Go's time.Duration prints it ("1h2m0.5s", "350ms", "0s") in seconds. */
export function parseGoDuration(d: string | undefined): number | undefined {
  if (d === undefined) return undefined;
  const s = d.trim();
  if (s === "0") return 0;
  const re = /([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(h|ms|m|s|us|µs|μs|ns)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    pos = re.lastIndex;
  }
  return pos > 0 && pos === s.length ? total : undefined;
}

const SIZE_UNITS: Record<string, number> = { "": 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50, E: 2 ** 60 };

/**
 * status.totalSize in bytes. The operator writes binary quantities ("12.5Mi"); a KubeBlocks 0.6
 * tool's backup.info may hold du -h output ("4.2M", "1G", "512K"), which is binary too, so every
 * unit letter counts in powers of 1024 (with or without "i" and a trailing "B").
 */
export function parseSize(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q === "number") return Number.isFinite(q) && q >= 0 ? q : undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s?(?:([kKMGTPE])i?B?|B)?$/.exec(q.trim());
  if (!m) return undefined;
  return Number(m[1]) * SIZE_UNITS[(m[2] ?? "").toUpperCase()];
}

/** Duration of an object that finished: its Go duration string, else completion minus start. */
export function durationSeconds(status: { duration?: string; startTimestamp?: string; completionTimestamp?: string } | undefined): number | undefined {
  const d = parseGoDuration(status?.duration);
  if (d !== undefined) return d;
  const start = timestampSeconds(status?.startTimestamp);
  const end = timestampSeconds(status?.completionTimestamp);
  return start !== undefined && end !== undefined && end >= start ? end - start : undefined;
}
