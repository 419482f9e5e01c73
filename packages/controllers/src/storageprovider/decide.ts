// Pure: a StorageProvider's status from what exists in the cluster.
import { StorageProviderPhase, type Condition, type StorageProvider, type StorageProviderStatus } from "@dataprotection/api";
import { setCondition, type Decision } from "@dataprotection/runtime";
import { checkTemplate } from "./template.ts";
import { schemaProblem } from "./parameters.ts";

export const ProviderCondition = { CSIDriverInstalled: "CSIDriverInstalled", TemplatesValid: "TemplatesValid", Ready: "Ready" } as const;
export const ProviderReason = {
  CSIDriverInstalled: "CSIDriverInstalled",
  CSIDriverNotInstalled: "CSIDriverNotInstalled",
  NoCSIDriver: "NoCSIDriver",
  TemplatesValid: "TemplatesValid",
  InvalidTemplate: "InvalidTemplate",
  Ready: "Ready",
  NotReady: "NotReady",
} as const;

const TEMPLATE_FIELDS = ["csiDriverSecretTemplate", "storageClassTemplate", "persistentVolumeClaimTemplate", "agentConfigTemplate"] as const;

/** Problems with the provider's own templates and schema, each naming the field. */
export function providerProblems(p: StorageProvider): string[] {
  const out: string[] = [];
  for (const f of TEMPLATE_FIELDS) {
    const src = p.spec[f];
    if (!src) continue;
    try {
      checkTemplate(`StorageProvider "${p.metadata?.name}" .spec.${f}`, src);
    } catch (e) {
      out.push((e as Error).message);
    }
  }
  const s = schemaProblem(p);
  if (s) out.push(s);
  return out;
}

/** The provider's whole status, and an Event when its phase changes. */
export function decideProvider(p: StorageProvider, csiDriverExists: boolean, now: Date): Decision<StorageProviderStatus> {
  const name = p.metadata?.name;
  const gen = p.metadata?.generation;
  let conditions: Condition[] | undefined = p.status?.conditions;
  const driver = p.spec.csiDriverName;
  const driverOk = !driver || csiDriverExists;
  conditions = setCondition(conditions, driver
    ? driverOk
      ? { type: ProviderCondition.CSIDriverInstalled, status: "True", reason: ProviderReason.CSIDriverInstalled, message: `CSIDriver "${driver}" is installed`, observedGeneration: gen }
      : { type: ProviderCondition.CSIDriverInstalled, status: "False", reason: ProviderReason.CSIDriverNotInstalled, message: `CSIDriver "${driver}" not found: install the CSI driver or fix StorageProvider "${name}" .spec.csiDriverName`, observedGeneration: gen }
    : { type: ProviderCondition.CSIDriverInstalled, status: "True", reason: ProviderReason.NoCSIDriver, message: "no CSI driver needed", observedGeneration: gen }, now);
  const problems = providerProblems(p);
  conditions = setCondition(conditions, problems.length
    ? { type: ProviderCondition.TemplatesValid, status: "False", reason: ProviderReason.InvalidTemplate, message: problems.join("; "), observedGeneration: gen }
    : { type: ProviderCondition.TemplatesValid, status: "True", reason: ProviderReason.TemplatesValid, message: "templates and parametersSchema parse", observedGeneration: gen }, now);
  const ready = driverOk && problems.length === 0;
  const message = ready ? `StorageProvider "${name}" is ready` : [!driverOk ? `CSIDriver "${driver}" not found: install the CSI driver or fix .spec.csiDriverName` : "", ...problems].filter(Boolean).join("; ");
  conditions = setCondition(conditions, { type: ProviderCondition.Ready, status: ready ? "True" : "False", reason: ready ? ProviderReason.Ready : ProviderReason.NotReady, message, observedGeneration: gen }, now);
  const phase = ready ? StorageProviderPhase.Ready : StorageProviderPhase.NotReady;
  const status: StorageProviderStatus = { ...(p.status ?? {}), phase, conditions, observedGeneration: gen };
  const changed = p.status?.phase !== phase;
  return {
    status,
    events: changed ? [{ type: ready ? "Normal" : "Warning", reason: ready ? ProviderReason.Ready : ProviderReason.NotReady, message }] : [],
  };
}
