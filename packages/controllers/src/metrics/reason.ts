// The `reason` label: the known reason a failureReason starts with ("<Reason>: <message>"),
// else Other, so a free-text message never becomes a label value.
import { Reason as BackupReason } from "../backup/reasons.ts";
import { Reason as RestoreReason } from "../restorejob/reasons.ts";
import { OTHER_REASON } from "@dataprotection/api";

export const backupReasons: ReadonlySet<string> = new Set(Object.values(BackupReason));
export const restoreReasons: ReadonlySet<string> = new Set(Object.values(RestoreReason));

export function reasonLabel(failureReason: string | undefined, known: ReadonlySet<string>): string {
  const head = /^\s*([A-Za-z][A-Za-z0-9]*)\s*:/.exec(failureReason ?? "")?.[1];
  return head !== undefined && known.has(head) ? head : OTHER_REASON;
}
