// Scrape-time gauge derived from the BackupRepos in the cache: is each one Ready. A repo being
// deleted (it waits for its Backups) has no series: deleting it was somebody's decision.
import { BackupRepoPhase, type BackupRepo } from "@dataprotection/api";
import type { Sample } from "./sample.ts";

export function repoReady(repos: readonly BackupRepo[]): Sample<"repo">[] {
  return repos
    .filter((r) => !r.metadata?.deletionTimestamp && r.status?.phase !== BackupRepoPhase.Deleting)
    .map((r) => ({ labels: { repo: r.metadata?.name ?? "" }, value: r.status?.phase === BackupRepoPhase.Ready ? 1 : 0 }));
}
