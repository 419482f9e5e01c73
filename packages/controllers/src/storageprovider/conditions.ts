// Pure: condition lists as Kubernetes keeps them (lastTransitionTime changes only with status).
import type { Condition } from "@dataprotection/api";

export type ConditionStatus = Condition["status"];

export function setCondition(list: Condition[] | undefined, c: Omit<Condition, "lastTransitionTime">, now: Date): Condition[] {
  const old = (list ?? []).find((x) => x.type === c.type);
  const lastTransitionTime = old && old.status === c.status ? old.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, "Z");
  const next: Condition = { ...c, lastTransitionTime };
  return [...(list ?? []).filter((x) => x.type !== c.type), next];
}

export function removeCondition(list: Condition[] | undefined, type: string): Condition[] {
  return (list ?? []).filter((x) => x.type !== type);
}

export function findCondition(list: Condition[] | undefined, type: string): Condition | undefined {
  return (list ?? []).find((x) => x.type === type);
}
