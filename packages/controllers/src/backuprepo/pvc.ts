// Pure: the PVC a filesystem (Mount) repo gets in each namespace that uses it.
import type { V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import type { BackupRepo, StorageProvider } from "@dataprotection/api";
import { parseRenderedMap, renderTemplate, type TemplateValues } from "../storageprovider/template.ts";
import { AnnotationAccessModes, repoLabels } from "./names.ts";

/** Used when a repo sets no volumeCapacity (KubeBlocks 0.6 asked for 100Gi too). */
export const DefaultVolumeCapacity = "100Gi";

/** ReadWriteMany unless the StorageClass says its volumes support only other modes. */
export function accessModesFor(sc: V1StorageClass | undefined): string[] {
  const ann = sc?.metadata?.annotations?.[AnnotationAccessModes];
  const modes = ann?.split(",").map((m) => m.trim()).filter(Boolean);
  return modes?.length ? modes : ["ReadWriteMany"];
}

/**
 * The repo PVC named `pvcName` in `namespace`: from the provider's
 * persistentVolumeClaimTemplate when it has one, else the generated StorageClass.
 * Labelled with the repo (no owner reference: the repo is cluster-scoped).
 */
export function buildRepoPVC(o: {
  repo: BackupRepo;
  provider: StorageProvider | undefined;
  namespace: string;
  pvcName: string;
  values: TemplateValues;
  storageClass?: V1StorageClass;
}): V1PersistentVolumeClaim {
  const repoName = o.repo.metadata?.name ?? "";
  let fromTemplate: V1PersistentVolumeClaim = {};
  const tpl = o.provider?.spec.persistentVolumeClaimTemplate;
  if (tpl) {
    const where = `StorageProvider "${o.provider?.metadata?.name}" .spec.persistentVolumeClaimTemplate`;
    fromTemplate = parseRenderedMap(where, renderTemplate(where, tpl, o.values), "PersistentVolumeClaim fields (spec, metadata)") as V1PersistentVolumeClaim;
  }
  const spec = { ...(fromTemplate.spec ?? {}) };
  if (!tpl || !spec.storageClassName) {
    if (o.values.GeneratedStorageClassName) spec.storageClassName = o.values.GeneratedStorageClassName;
  }
  if (!spec.accessModes?.length) spec.accessModes = accessModesFor(o.storageClass);
  spec.volumeMode ??= "Filesystem";
  spec.resources = { ...(spec.resources ?? {}), requests: { ...(spec.resources?.requests ?? {}), storage: String(o.repo.spec.volumeCapacity ?? spec.resources?.requests?.storage ?? DefaultVolumeCapacity) } };
  const md = fromTemplate.metadata ?? {};
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: o.pvcName,
      namespace: o.namespace,
      labels: { ...(md.labels ?? {}), ...repoLabels(repoName) },
      ...(md.annotations ? { annotations: md.annotations } : {}),
    },
    spec,
  };
}
