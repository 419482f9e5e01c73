// Pure: the PersistentVolume a policy's persistentVolumeConfigMap describes (KubeBlocks 0.6).
// The ConfigMap's `persistentVolume` key holds a PV manifest (YAML or JSON) in which
// $(GENERATE_NAME) stands for "<pvc name>-<pvc namespace>".
import type { V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { parse } from "yaml";

export const PV_TEMPLATE_KEY = "persistentVolume";

export type PVFromTemplate = { ok: true; pv: V1PersistentVolume; claim: V1PersistentVolumeClaim } | { ok: false; message: string };

/** Renders the PV and the claim bound to it; `where` names the ConfigMap in messages. */
export function persistentVolumeFromTemplate(template: string | undefined, claimName: string, namespace: string, where: string): PVFromTemplate {
  if (!template) return { ok: false, message: `ConfigMap ${where} has no key "${PV_TEMPLATE_KEY}": put a PersistentVolume manifest there` };
  let pv: V1PersistentVolume;
  try {
    pv = parse(template.split("$(GENERATE_NAME)").join(`${claimName}-${namespace}`)) as V1PersistentVolume;
  } catch (e) {
    return { ok: false, message: `ConfigMap ${where} key "${PV_TEMPLATE_KEY}" is not valid YAML: ${(e as Error).message.split("\n")[0]}` };
  }
  if (!pv || typeof pv !== "object" || !pv.spec) return { ok: false, message: `ConfigMap ${where} key "${PV_TEMPLATE_KEY}" must be a PersistentVolume with a spec` };
  const name = pv.metadata?.name || `${claimName}-${namespace}`;
  const storage = pv.spec.capacity?.storage;
  if (!storage) return { ok: false, message: `ConfigMap ${where}: the PersistentVolume template needs spec.capacity.storage` };
  const rendered: V1PersistentVolume = {
    ...pv,
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { ...pv.metadata, name },
    // Pre-bound to the claim, so no other claim can take it.
    spec: { ...pv.spec, claimRef: { namespace, name: claimName } },
  };
  const claim: V1PersistentVolumeClaim = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: claimName, namespace },
    spec: {
      accessModes: pv.spec.accessModes ?? ["ReadWriteMany"],
      resources: { requests: { storage: String(storage) } },
      volumeName: name,
      // "" keeps the default StorageClass from provisioning a different volume.
      storageClassName: pv.spec.storageClassName ?? "",
    },
  };
  return { ok: true, pv: rendered, claim };
}
