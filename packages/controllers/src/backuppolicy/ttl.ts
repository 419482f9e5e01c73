// retention.ttl: a whole number of days or hours ("7d", "12H"), as in KubeBlocks 0.6.

const UNIT_MS = { d: 24 * 3_600_000, h: 3_600_000 } as const;
/** Past this a Date would overflow long before; anything longer means "forever" anyway. */
const MAX_TTL_DAYS = 100_000;

export type ParseTTLResult = { ok: true; milliseconds: number } | { ok: false; error: string };

export function parseTTL(ttl: string): ParseTTLResult {
  const match = /^(\d+)([dDhH])$/.exec(ttl.trim());
  const fix = `use a whole number of days or hours such as "7d" or "12h"`;
  if (!match) return { ok: false, error: `invalid retention.ttl "${ttl}": ${fix}` };
  const amount = Number(match[1]);
  const milliseconds = amount * UNIT_MS[match[2].toLowerCase() as keyof typeof UNIT_MS];
  // 0 would expire every Backup the moment it is made: surely a mistake, not a policy.
  if (amount === 0) return { ok: false, error: `invalid retention.ttl "${ttl}": must be more than 0; ${fix}` };
  if (milliseconds > MAX_TTL_DAYS * UNIT_MS.d) {
    return { ok: false, error: `invalid retention.ttl "${ttl}": at most ${MAX_TTL_DAYS}d; omit ttl to keep Backups forever` };
  }
  return { ok: true, milliseconds };
}

/** status.expiration of a Backup that started at `start`. */
export function expirationFor(start: Date, ttlMilliseconds: number): Date {
  return new Date(start.getTime() + ttlMilliseconds);
}
