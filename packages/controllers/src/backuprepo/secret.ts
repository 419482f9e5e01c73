// Pure: Secrets a repo creates: copies of its credential / encryption key in the
// namespaces that use it, and the CSI driver Secret rendered from the provider.
import type { V1Secret } from "@kubernetes/client-node";
import type { StorageProvider } from "@dataprotection/api";
import { pickRepoSecrets } from "@dataprotection/storage";
import type { SecretCopy } from "./access.ts";
import { parseRenderedMap, renderTemplate, type TemplateValues } from "../storageprovider/template.ts";
import { repoLabels } from "./names.ts";

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

/**
 * The copy of `source` (decoded data) a SecretCopy asks for. Credential copies carry only the
 * Secret keys the repo's backend declares (storage registry), under their canonical names,
 * whichever spelling the user chose: whatever else the user keeps in that Secret never leaves
 * its namespace. Other copies carry the listed keys.
 */
export function buildSecretCopy(copy: SecretCopy, source: Record<string, string>, namespace: string): V1Secret {
  let data: Record<string, string>;
  if (copy.purpose === "credential") data = pickRepoSecrets(copy.backend ?? "", source);
  else if (copy.keys) data = Object.fromEntries(copy.keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
  else data = { ...source };
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: { name: copy.to, namespace, labels: repoLabels(copy.repo) },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  };
}

/** The copy lacks a key, holds one with another value, or holds a key it should not. */
export function secretDiffers(existing: V1Secret, wanted: V1Secret): boolean {
  const a = existing.data ?? {};
  const b = wanted.data ?? {};
  return Object.keys(b).some((k) => a[k] !== b[k]) || Object.keys(a).some((k) => !(k in b));
}

/** The CSI driver Secret from the provider's csiDriverSecretTemplate (a YAML map of keys). */
export function buildCSIDriverSecret(provider: StorageProvider, values: TemplateValues, repoName: string): V1Secret {
  const name = `StorageProvider "${provider.metadata?.name}" .spec.csiDriverSecretTemplate`;
  const text = renderTemplate(name, provider.spec.csiDriverSecretTemplate ?? "", values);
  const parsed = parseRenderedMap(name, text, "key: value");
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) data[k] = b64(v === null || v === undefined ? "" : String(v));
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: { name: values.CSIDriverSecretRef.Name, namespace: values.CSIDriverSecretRef.Namespace, labels: repoLabels(repoName) },
    data,
  };
}
