// Pure: whether a Backup waits for its backup PVC to bind before its tool pod is created.
// A pod that refers to an unbound claim of an Immediate class is marked unschedulable, and the
// scheduler may keep it there long after the claim binds (its requeue is event- and backoff-
// driven): the tool then looks stuck and PodCannotStart fails the Backup. Waiting for the bind
// first, bounded, keeps the pod out of that path. A WaitForFirstConsumer class binds only once a
// pod uses the claim, so it is never waited for.
import type { V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import type { Backup } from "@dataprotection/api";
import { failed, notStarted } from "./decide.ts";
import type { BackupDecision } from "./decision.ts";
import { Reason } from "./reasons.ts";
import type { BackupPlan } from "./validate.ts";

export type ClaimWait =
  | { kind: "ready" }
  | { kind: "wait"; message: string; retryAfterMs: number }
  | { kind: "fail"; message: string };

const DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class";

/** The class a claim binds through: its own, else the cluster's default one. */
export function classOf(pvc: V1PersistentVolumeClaim, classes: readonly V1StorageClass[]): V1StorageClass | undefined {
  const name = pvc.spec?.storageClassName;
  if (name !== undefined) return classes.find((c) => c.metadata?.name === name);
  return classes.find((c) => c.metadata?.annotations?.[DEFAULT_CLASS] === "true");
}

/**
 * `pvc` undefined: not there yet (claimBound has a policy's claim created first): wait. Bound,
 * pre-bound to a named volume, or of a WaitForFirstConsumer class: ready. Otherwise wait, up to
 * `limitMs` after the claim's creation, then fail naming the claim and where to look.
 */
export function claimWait(name: string, ns: string, pvc: V1PersistentVolumeClaim | undefined, sc: V1StorageClass | undefined, now: Date, limitMs: number): ClaimWait {
  if (!pvc) return { kind: "wait", message: `creating PersistentVolumeClaim "${ns}/${name}" for the backup data`, retryAfterMs: 1_000 };
  if (pvc.status?.phase === "Bound" || pvc.spec?.volumeName) return { kind: "ready" };
  if (sc?.volumeBindingMode === "WaitForFirstConsumer") return { kind: "ready" };
  const created = Date.parse(String(pvc.metadata?.creationTimestamp ?? "")) || now.getTime();
  const waited = now.getTime() - created;
  const phase = pvc.status?.phase ?? "Pending";
  if (waited > limitMs) {
    return { kind: "fail", message: `PersistentVolumeClaim "${ns}/${name}" for the backup data is still ${phase} after ${Math.round(waited / 1000)}s: check its events (kubectl -n ${ns} describe pvc ${name}) and its StorageClass` };
  }
  return { kind: "wait", message: `waiting for PersistentVolumeClaim "${ns}/${name}" (${phase}) to bind before starting the tool pod`, retryAfterMs: 1_000 };
}

/**
 * Before a tool pod: its backup PVC (`pvc`, as read; `sc` its class) exists and has bound.
 * undefined when it has (or there is none); else creates the policy's claim first (the next pass
 * reads it back), waits, or fails.
 */
export function claimBound(b: Backup, dest: BackupPlan["destination"], pvc: V1PersistentVolumeClaim | undefined, sc: V1StorageClass | undefined, now: Date, limitMs: number): BackupDecision | undefined {
  const name = dest?.access.pvcName;
  if (!name) return undefined;
  if (!pvc && dest.claim) return { prepare: [{ kind: "ensureClaim", claim: dest.claim }], requeueAfterMs: 1 };
  const w = claimWait(name, b.metadata?.namespace ?? "", pvc, sc, now, limitMs);
  if (w.kind === "ready") return undefined;
  if (w.kind === "fail") return failed(b, Reason.PVCNotBound, w.message, now);
  return notStarted(b, { kind: "wait", reason: Reason.PVCPending, message: w.message, retryAfterMs: w.retryAfterMs }, now);
}
