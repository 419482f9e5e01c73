// Reasons shared by decisions, Events and tests.

/** Why a schedule tick produced no Backup. */
export const SkipReason = {
  PreviousRunning: "PreviousRunning",
  MissedDeadline: "MissedDeadline",
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

/** Why retention deletes a Backup. */
export const PruneReason = {
  Expired: "Expired",
  HistoryLimit: "HistoryLimit",
} as const;
export type PruneReason = (typeof PruneReason)[keyof typeof PruneReason];
