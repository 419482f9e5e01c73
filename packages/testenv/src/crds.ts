import { ApiextensionsV1Api, KubernetesObjectApi, PatchStrategy, loadYaml, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { waitFor } from "./controlplane/readiness.ts";

/**
 * Server-side applies CustomResourceDefinitions and waits until each is Established,
 * so the caller can create objects of those kinds right away.
 */
export async function installCrds(kubeConfig: KubeConfig, docs: KubernetesObject[], timeoutMs = 60_000): Promise<void> {
  const objects = kubeConfig.makeApiClient(KubernetesObjectApi);
  const ext = kubeConfig.makeApiClient(ApiextensionsV1Api);
  for (const doc of docs) {
    // The typed serializer drops wire keys it does not know (x-kubernetes-*, default)
    // unless the object went through its own deserializer first.
    const typed = loadYaml<KubernetesObject>(JSON.stringify(doc));
    await objects.patch(typed, undefined, undefined, "dataprotection-testenv", true, PatchStrategy.ServerSideApply);
  }
  for (const doc of docs) {
    const name = doc.metadata?.name;
    if (!name) throw new Error("a CRD without metadata.name cannot be installed");
    await waitFor(`CRD ${name} Established`, async () => {
      const crd = await ext.readCustomResourceDefinition({ name });
      return !!crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
    }, timeoutMs);
  }
}
