// What a scrape-time derivation returns: one value per label set, set on a gauge as is.

export interface Sample<L extends string = string> {
  labels: Record<L, string>;
  value: number;
}

/** The backup type label: spec.backupType, datafile when unset (the API's default). */
export type BackupTypeLabel = "datafile" | "logfile" | "snapshot";

export function backupTypeOf(b: { spec?: { backupType?: string } }): BackupTypeLabel {
  const t = b.spec?.backupType;
  return t === "logfile" || t === "snapshot" ? t : "datafile";
}

/** namespace, policy and type of a Backup. */
export function policyLabelsOf(b: { metadata?: { namespace?: string }; spec?: { backupPolicyName?: string; backupType?: string } }): Record<"namespace" | "policy" | "type", string> {
  return { namespace: b.metadata?.namespace ?? "", policy: b.spec?.backupPolicyName ?? "", type: backupTypeOf(b) };
}
