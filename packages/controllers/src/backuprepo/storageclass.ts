// Pure: the StorageClass a filesystem repo gets from its provider's storageClassTemplate.
import type { V1StorageClass } from "@kubernetes/client-node";
import type { BackupRepo, StorageProvider } from "@dataprotection/api";
import { ownerReference, type KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { TemplateShapeError, parseRenderedMap, renderTemplate, type TemplateValues } from "../storageprovider/template.ts";
import { repoLabels } from "./names.ts";

/**
 * Renders the template (the body of a StorageClass: provisioner, parameters, ...) and
 * names it `values.GeneratedStorageClassName`, with the repo's pvReclaimPolicy and an
 * owner reference to the repo (both cluster-scoped, so garbage collection removes it).
 */
export function buildStorageClass(repo: BackupRepo & KubeObject, provider: StorageProvider, values: TemplateValues): V1StorageClass {
  const where = `StorageProvider "${provider.metadata?.name}" .spec.storageClassTemplate`;
  const text = renderTemplate(where, provider.spec.storageClassTemplate ?? "", values);
  const body = parseRenderedMap(where, text, "StorageClass fields (provisioner, parameters, ...)") as Partial<V1StorageClass>;
  if (!body.provisioner) body.provisioner = provider.spec.csiDriverName ?? "";
  if (!body.provisioner) throw new TemplateShapeError(where, `renders no provisioner and the provider names no csiDriverName: add "provisioner: <driver>" to the template`);
  const repoName = repo.metadata.name ?? "";
  const md = body.metadata ?? {};
  const parameters = body.parameters ? Object.fromEntries(Object.entries(body.parameters).map(([k, v]) => [k, String(v)])) : undefined;
  return {
    ...body,
    provisioner: body.provisioner,
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: {
      name: values.GeneratedStorageClassName,
      labels: { ...(md.labels ?? {}), ...repoLabels(repoName) },
      ...(md.annotations ? { annotations: md.annotations } : {}),
      ownerReferences: [ownerReference(repo, Kinds.BackupRepo, true)],
    },
    ...(parameters ? { parameters } : {}),
    reclaimPolicy: repo.spec.pvReclaimPolicy ?? "Retain",
    volumeBindingMode: body.volumeBindingMode ?? "Immediate",
  };
}
