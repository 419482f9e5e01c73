// ARCHIVE_INTERVAL for logfile (PITR) tools, derived from the logfile schedule's cron
// the way KubeBlocks 0.6 did, so its tool scripts keep working unchanged.

/** Used when the cron has no `*\/n` step in its first time field (KubeBlocks' default). */
export const DEFAULT_ARCHIVE_INTERVAL_SECONDS = 60;

/**
 * Seconds between log archives: the first of minute, hour written as a step `*\/n` wins
 * (`*\/m` minutes -> m*60, `*\/h` hours -> h*3600); with a leading seconds field `*\/s`
 * gives s. Macros and everything else give the default.
 */
export function archiveIntervalSeconds(cronExpression: string): number {
  const fields = cronExpression.trim().split(/\s+/);
  if (fields[0]?.startsWith("@")) return DEFAULT_ARCHIVE_INTERVAL_SECONDS;
  const units = fields.length === 6 ? [1, 60, 3600] : [60, 3600];
  for (let i = 0; i < units.length; i++) {
    const step = /^\*\/(\d+)$/.exec(fields[i] ?? "");
    if (step) {
      const n = Number(step[1]);
      return n > 0 ? n * units[i] : DEFAULT_ARCHIVE_INTERVAL_SECONDS;
    }
  }
  return DEFAULT_ARCHIVE_INTERVAL_SECONDS;
}

/** The env value KubeBlocks 0.6 tools expect, e.g. "300s". */
export function archiveIntervalEnv(cronExpression: string): string {
  return `${archiveIntervalSeconds(cronExpression)}s`;
}
